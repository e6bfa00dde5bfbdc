// uWSGI's --static-map URL=DIR: files under DIR answer requests for URL/...
// before the application sees them (GET and HEAD; anything not found falls
// through to the application, as in uWSGI). Sent with sendfile(2).
#pragma once

#include <trellis/protocol.hpp>

#include <optional>
#include <string>
#include <vector>

namespace trellis::core {

struct StaticMap {
  std::string prefix;     // "/static", no trailing slash
  std::string directory;  // "/srv/app/static", no trailing slash
};

// Parses "URL=DIR". Throws std::invalid_argument with a message.
StaticMap parse_static_map(const std::string& text);

// Serves the request from the first map whose prefix matches, if the file
// exists. Returns true when it answered; false to let the application do so.
bool serve_static(const std::vector<StaticMap>& maps, const sdk::Request& request, sdk::ResponseWriter& response);

}  // namespace trellis::core
