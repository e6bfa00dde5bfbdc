// The core's one maker of temporary files (request bodies spooled past
// --post-buffering): unnamed, so nothing is left behind whatever happens.
#pragma once

#include <string>

namespace trellis::core {

// An unnamed read-write file in $TMPDIR (else /tmp): O_TMPFILE, or
// mkstemp + unlink where the file system lacks it. -1 with errno set on
// failure; `where` names the directory for messages.
int open_temp_file(std::string& where) noexcept;

}  // namespace trellis::core
