// The envelope around every request and reply body, on its own (linked from the static
// library): sealing then opening gives back the header and package, whatever the
// payload's size and however well it compresses.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include "sync/package.h"

using namespace zumero::sync;

namespace {

std::string random_bytes(std::mt19937 &generator, std::size_t size) {
  std::string bytes(size, '\0');
  for (char &byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

void check_round_trip(const Envelope &envelope) {
  std::size_t sealed_size = 0;
  const std::string sealed = seal_envelope(envelope, &sealed_size);
  CHECK(sealed_size == 4 + envelope.header_json.size() + envelope.package_bytes.size());
  std::size_t opened_size = 0;
  Envelope opened = open_envelope(sealed, sealed_size, &opened_size);
  CHECK(opened_size == sealed_size);
  CHECK(opened.header_json == envelope.header_json);
  CHECK(opened.package_bytes == envelope.package_bytes);
}

}  // namespace

TEST_CASE("envelope: payloads that do not compress are sealed and open again", "[envelope]") {
  // Small payloads get a small deflate window, where incompressible data comes out larger
  // than compressBound promises; every size up to past the largest small window is tried.
  std::mt19937 generator(20240601);
  const std::string header = R"({"kind":"push","dbfile":"noise","base":1})";
  for (std::size_t size = 0; size <= 5000; ++size) {
    INFO("package of " << size << " random bytes");
    check_round_trip({header, random_bytes(generator, size)});
  }
  for (std::size_t size : {std::size_t(40000), std::size_t(300000)}) {
    INFO("package of " << size << " random bytes");
    check_round_trip({random_bytes(generator, 1000), random_bytes(generator, size)});
  }
}

TEST_CASE("envelope: payloads that compress are sealed smaller and open again", "[envelope]") {
  const std::string header = R"({"kind":"pull","dbfile":"text"})";
  for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(600), std::size_t(100000)}) {
    INFO("package of " << size << " repeated bytes");
    Envelope envelope{header, std::string(size, 'z')};
    check_round_trip(envelope);
    if (size >= 600) CHECK(seal_envelope(envelope).size() < size / 4);
  }
}
