// Start-up, in order: read the configuration, load and check plugins, bind
// sockets, then hand over to the master. Every failure before the master
// runs is one clear line on stderr and a non-zero exit.
#pragma once

namespace trellis::core {

int run_server(int argc, char** argv);

}  // namespace trellis::core
