#include "worker/static_files.hpp"

#include "worker/stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string_view>

namespace trellis::core {

namespace {

std::string_view content_type(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> types[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},             {".png", "image/png"},
      {".jpg", "image/jpeg"},                {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},                 {".webp", "image/webp"},
      {".ico", "image/x-icon"},              {".woff", "font/woff"},
      {".woff2", "font/woff2"},              {".pdf", "application/pdf"},
      {".xml", "application/xml"},           {".map", "application/json"},
  };
  auto dot = path.rfind('.');
  if (dot != std::string_view::npos && path.find('/', dot) == std::string_view::npos) {
    std::string ext(path.substr(dot));
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& [e, t] : types)
      if (ext == e) return t;
  }
  return "application/octet-stream";
}

// A relative path that cannot leave the mapped directory.
bool safe(std::string_view rel) {
  if (rel.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    if (rel.substr(start, end - start) == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string http_date(std::time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

StaticMap parse_static_map(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size() || text[0] != '/')
    throw std::invalid_argument("invalid --static-map '" + text + "': expected /URL=DIR");
  StaticMap m{text.substr(0, eq), text.substr(eq + 1)};
  while (m.prefix.size() > 1 && m.prefix.back() == '/') m.prefix.pop_back();
  while (m.directory.size() > 1 && m.directory.back() == '/') m.directory.pop_back();
  return m;
}

bool serve_static(const std::vector<StaticMap>& maps, Stream& stream) {
  const trellis_request_head* h = stream.head();
  std::string_view method(h->method.ptr, h->method.len);
  bool head = method == "HEAD";
  if (!head && method != "GET") return false;
  std::string_view path(h->path.ptr, h->path.len);
  for (const StaticMap& m : maps) {
    if (!path.starts_with(m.prefix) || (path.size() > m.prefix.size() && path[m.prefix.size()] != '/')) continue;
    std::string_view rel = path.substr(m.prefix.size());
    if (rel.empty() || rel == "/" || !safe(rel)) continue;
    std::string file = m.directory + std::string(rel);
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      continue;
    }
    std::string length = std::to_string(st.st_size);
    std::string modified = http_date(st.st_mtime);
    std::string type(content_type(rel));
    trellis_field fields[] = {{{"Content-Type", 12}, {type.data(), type.size()}},
                              {{"Content-Length", 14}, {length.data(), length.size()}},
                              {{"Last-Modified", 13}, {modified.data(), modified.size()}}};
    trellis_response_head response{sizeof response, 0, {"200 OK", 6}, fields, 3};
    if (stream.start(&response) == TRELLIS_OK) {
      if (!head && st.st_size > 0) {
        trellis_chunk c{};
        c.kind = TRELLIS_CHUNK_FILE;
        c.fd = fd;
        c.offset = 0;
        c.len = static_cast<std::size_t>(st.st_size);
        stream.write(&c, 1, true);
      }
      stream.finish(nullptr, 0);
    }
    close(fd);
    stream.done();
    return true;
  }
  return false;
}

}  // namespace trellis::core
