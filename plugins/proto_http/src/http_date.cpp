#include "http_date.hpp"

#include <ctime>

namespace trellis::http {
namespace {

void put2(char* p, int v) noexcept {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

std::string_view http_date_now() noexcept {
  // Formatted by hand: strftime's %a/%b follow the locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_at = -1;
  thread_local char buf[29];
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char* p = buf;
    for (int i = 0; i < 3; ++i) *p++ = kDays[tm.tm_wday][i];
    *p++ = ',';
    *p++ = ' ';
    put2(p, tm.tm_mday);
    p += 2;
    *p++ = ' ';
    for (int i = 0; i < 3; ++i) *p++ = kMonths[tm.tm_mon][i];
    *p++ = ' ';
    int year = tm.tm_year + 1900;
    put2(p, year / 100);
    put2(p + 2, year % 100);
    p += 4;
    *p++ = ' ';
    put2(p, tm.tm_hour);
    p[2] = ':';
    put2(p + 3, tm.tm_min);
    p[5] = ':';
    put2(p + 6, tm.tm_sec);
    p += 8;
    for (char c : {' ', 'G', 'M', 'T'}) *p++ = c;
    cached_at = now;
  }
  return {buf, sizeof buf};
}

}  // namespace trellis::http
