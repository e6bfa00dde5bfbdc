#include "worker/temp_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace trellis::core {

int open_temp_file(std::string& where) noexcept {
  try {
    const char* env = std::getenv("TMPDIR");
    where = (env && *env) ? env : "/tmp";
    int fd = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT)) return fd;
    std::string path = where + "/trellis-body-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
    return fd;
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

}  // namespace trellis::core
