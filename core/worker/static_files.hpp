// uWSGI's --static-map URL=DIR: files under DIR answer requests for URL/...
// before the application sees them (GET and HEAD; anything not found falls
// through to the application, as in uWSGI). Sent with sendfile(2) by the
// loop thread, so a download holds no application thread. The response
// carries Last-Modified; a protocol that honours If-Modified-Since (HTTP)
// turns it into a 304 itself.
#pragma once


#include <optional>
#include <string>
#include <vector>

namespace trellis::core {

class Stream;

struct StaticMap {
  std::string prefix;     // "/static", no trailing slash
  std::string directory;  // "/srv/app/static", no trailing slash
};

// Parses "URL=DIR". Throws std::invalid_argument with a message.
StaticMap parse_static_map(const std::string& text);

// Loop thread. Serves the stream from the first map whose prefix matches,
// if the file exists. True when it answered (and is done with the stream);
// false to let the runtime do so.
bool serve_static(const std::vector<StaticMap>& maps, Stream& stream);

}  // namespace trellis::core
