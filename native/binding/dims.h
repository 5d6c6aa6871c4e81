// The sizes or strides of a tensor view, kept inline: describing a tensor for a kernel call
// allocates nothing (two std::vectors per tensor cost a malloc and a free each). Views have
// at most kMaxViewDims dimensions; the argument readers refuse more before filling one.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <vector>

namespace iv {

constexpr size_t kMaxViewDims = 16;

class Dims {
 public:
  Dims() = default;
  // Copies only the n_ elements in use: a whole-array copy (rep movs of 128 bytes per Dims)
  // was a visible part of every small kernel call.
  Dims(const Dims& o) : n_(o.n_) { std::copy(o.v_, o.v_ + n_, v_); }
  Dims& operator=(const Dims& o) {
    n_ = o.n_;
    std::copy(o.v_, o.v_ + n_, v_);
    return *this;
  }
  Dims(std::initializer_list<int64_t> values) { assign(values.begin(), values.end()); }
  Dims(const std::vector<int64_t>& values) { assign(values.data(), values.data() + values.size()); }
  template <class It>
  Dims(It first, It last) {
    assign(first, last);
  }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  void resize(size_t n, int64_t value = 0) {
    check(n);
    for (size_t k = n_; k < n; k++) v_[k] = value;
    n_ = static_cast<uint32_t>(n);
  }
  // Sets the size without writing elements: the caller fills [0, n) itself.
  void setSize(size_t n) {
    check(n);
    n_ = static_cast<uint32_t>(n);
  }
  void push_back(int64_t value) {
    check(n_ + 1);
    v_[n_++] = value;
  }
  void pop_back() { n_--; }
  void clear() { n_ = 0; }
  int64_t* insert(const int64_t* at, int64_t value) {
    check(n_ + 1);
    const size_t k = static_cast<size_t>(at - v_);
    std::copy_backward(v_ + k, v_ + n_, v_ + n_ + 1);
    v_[k] = value;
    n_++;
    return v_ + k;
  }
  int64_t* erase(const int64_t* at) {
    const size_t k = static_cast<size_t>(at - v_);
    std::copy(v_ + k + 1, v_ + n_, v_ + k);
    n_--;
    return v_ + k;
  }

  int64_t& operator[](size_t k) { return v_[k]; }
  int64_t operator[](size_t k) const { return v_[k]; }
  int64_t& back() { return v_[n_ - 1]; }
  int64_t back() const { return v_[n_ - 1]; }
  int64_t& front() { return v_[0]; }
  int64_t front() const { return v_[0]; }
  int64_t* data() { return v_; }
  const int64_t* data() const { return v_; }
  int64_t* begin() { return v_; }
  int64_t* end() { return v_ + n_; }
  const int64_t* begin() const { return v_; }
  const int64_t* end() const { return v_ + n_; }

  operator std::vector<int64_t>() const { return std::vector<int64_t>(begin(), end()); }
  friend bool operator==(const Dims& a, const Dims& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }

 private:
  template <class It>
  void assign(It first, It last) {
    const size_t n = static_cast<size_t>(std::distance(first, last));
    check(n);
    std::copy(first, last, v_);
    n_ = static_cast<uint32_t>(n);
  }
  static void check(size_t n) {
    if (n > kMaxViewDims) throw std::length_error("a tensor view has at most 16 dimensions");
  }
  int64_t v_[kMaxViewDims];
  uint32_t n_ = 0;
};

}  // namespace iv
