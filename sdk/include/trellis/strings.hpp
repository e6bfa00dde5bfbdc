// Strings and header fields across the C boundary: (pointer, length) pairs
// there, std::string_view here. Inline conversions; they add no ABI.
#pragma once

#include <cstddef>
#include <iterator>
#include <string_view>

#include "trellis/abi.h"

namespace trellis::sdk {

constexpr trellis_str to_c(std::string_view s) noexcept { return {s.data(), s.size()}; }
constexpr std::string_view from_c(trellis_str s) noexcept { return s.len ? std::string_view(s.ptr, s.len) : std::string_view(); }

// One header field as a C++ caller builds it (response headers, trailers).
struct Field {
  std::string_view name;
  std::string_view value;
};

constexpr trellis_field to_c(const Field& f) noexcept { return {to_c(f.name), to_c(f.value)}; }
constexpr Field from_c(const trellis_field& f) noexcept { return {from_c(f.name), from_c(f.value)}; }

// A read-only view of a C array of fields (request headers, variables,
// trailers), iterated as Field values.
class FieldList {
 public:
  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Field;
    constexpr iterator() noexcept = default;
    constexpr explicit iterator(const trellis_field* p) noexcept : p_(p) {}
    constexpr Field operator*() const noexcept { return from_c(*p_); }
    constexpr Field operator[](difference_type n) const noexcept { return from_c(p_[n]); }
    constexpr iterator& operator++() noexcept { ++p_; return *this; }
    constexpr iterator operator++(int) noexcept { iterator t = *this; ++p_; return t; }
    constexpr iterator& operator--() noexcept { --p_; return *this; }
    constexpr iterator& operator+=(difference_type n) noexcept { p_ += n; return *this; }
    constexpr iterator operator+(difference_type n) const noexcept { return iterator(p_ + n); }
    constexpr difference_type operator-(const iterator& o) const noexcept { return p_ - o.p_; }
    constexpr bool operator==(const iterator& o) const noexcept = default;

   private:
    const trellis_field* p_ = nullptr;
  };

  constexpr FieldList() noexcept = default;
  constexpr FieldList(const trellis_field* fields, std::size_t count) noexcept : fields_(fields), count_(count) {}
  constexpr iterator begin() const noexcept { return iterator(fields_); }
  constexpr iterator end() const noexcept { return iterator(fields_ + count_); }
  constexpr std::size_t size() const noexcept { return count_; }
  constexpr bool empty() const noexcept { return count_ == 0; }
  constexpr Field operator[](std::size_t i) const noexcept { return from_c(fields_[i]); }
  const trellis_field* data() const noexcept { return fields_; }

 private:
  const trellis_field* fields_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace trellis::sdk
