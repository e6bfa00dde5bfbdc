// The install layout's library directory, baked in at configure time, so an
// installed binary finds <prefix>/<libdir>/trellis/plugins.
#pragma once

#ifndef TRELLIS_INSTALL_LIBDIR
#define TRELLIS_INSTALL_LIBDIR "lib"
#endif
