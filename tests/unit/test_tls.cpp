// TLS contexts (codis/tls.h) and the proxy's non-blocking TlsConn over a
// socketpair: handshake, partial writes against a full socket, reads until
// WANT_READ, and the start-up errors for bad files. Certificates are made
// with the openssl CLI in a temporary directory.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "codis/tls.h"
#include "tls_conn.h"

using codis::proxy::TlsConn;
namespace fs = std::filesystem;

namespace {

struct Pki {
  fs::path dir;
  std::string ca, cert, key, other_key;
  Pki() {
    dir = fs::temp_directory_path() / ("codis_tls_unit_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string d = dir.string();
    ca = d + "/ca.crt";
    cert = d + "/server.crt";
    key = d + "/server.key";
    other_key = d + "/other.key";
    std::ofstream(d + "/ext") << "subjectAltName=IP:127.0.0.1,DNS:proxy.test\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string cmd =
        "cd " + d + " && openssl req -x509" + ec + "-keyout ca.key -out ca.crt -days 1 -subj /CN=unit-ca" +
        " && openssl req" + ec + "-keyout server.key -out server.csr -subj /CN=server" +
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 7 -days 1 -out server.crt" +
        " -extfile ext && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out other.key" +
        " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  ~Pki() {
    std::error_code e;
    fs::remove_all(dir, e);
  }
};

const Pki& pki() {
  static Pki p;
  return p;
}

void nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Drives both handshakes on one thread until both are done (or one fails).
bool handshake(TlsConn& a, TlsConn& b) {
  for (int i = 0; i < 100; ++i) {
    auto x = a.handshake();
    auto y = b.handshake();
    if (x == TlsConn::Io::kOk && y == TlsConn::Io::kOk) return true;
    if (x == TlsConn::Io::kError || y == TlsConn::Io::kError) return false;
  }
  return false;
}

}  // namespace

TEST_CASE("TLS contexts: clear errors for bad files", "[tls]") {
  const Pki& p = pki();
  auto ok = codis::tls::make_server_context({p.cert, p.key, ""});
  REQUIRE(ok.ok());
  auto mismatch = codis::tls::make_server_context({p.cert, p.other_key, ""});
  REQUIRE(!mismatch.ok());
  CHECK(mismatch.message().find("does not match") != std::string::npos);
  auto missing = codis::tls::make_server_context({p.cert + ".nope", p.key, ""});
  REQUIRE(!missing.ok());
  CHECK(missing.message().find("server.crt.nope") != std::string::npos);
  auto notpem = codis::tls::make_server_context({p.key, p.key, ""});  // a key is no certificate
  REQUIRE(!notpem.ok());
  auto badca = codis::tls::make_client_context({p.dir.string() + "/ext", "", ""});
  REQUIRE(!badca.ok());
  CHECK(badca.message().find("CA file") != std::string::npos);
  CHECK(codis::tls::describe_cert_file(p.cert).find("serial 07") != std::string::npos);
}

TEST_CASE("TlsConn: handshake, partial writes and reads over non-blocking sockets", "[tls]") {
  const Pki& p = pki();
  auto server_ctx = codis::tls::make_server_context({p.cert, p.key, ""});
  auto client_ctx = codis::tls::make_client_context({p.ca, "", ""});
  REQUIRE(server_ctx.ok());
  REQUIRE(client_ctx.ok());
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  nonblocking(sv[0]);
  nonblocking(sv[1]);
  std::string err;
  auto server = TlsConn::accept(server_ctx->get(), sv[0], err);
  auto client = TlsConn::connect(client_ctx->get(), sv[1], "127.0.0.1", "", err);
  REQUIRE(server);
  REQUIRE(client);
  REQUIRE(handshake(*client, *server));
  CHECK(client->describe().find("TLSv1.3") != std::string::npos);

  // Nothing to read yet: WANT_READ, not an error or EOF.
  char buf[64 * 1024];
  size_t n = 0;
  CHECK(server->read(buf, sizeof buf, n) == TlsConn::Io::kWantRead);

  // 4 MB cannot fit in the socket: the writer gets partial writes, then WANT_WRITE;
  // the reader drains; the writer resumes with the rest (from the same offset).
  std::string payload(4 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
  std::string got;
  size_t off = 0;
  bool saw_want_write = false;
  // Fill the socket with nobody reading: partial writes, then WANT_WRITE.
  while (off < payload.size()) {
    auto io = client->write(payload.data() + off, payload.size() - off, n);
    if (io != TlsConn::Io::kOk) {
      REQUIRE(io == TlsConn::Io::kWantWrite);
      saw_want_write = true;
      break;
    }
    REQUIRE(n > 0);
    off += n;
  }
  for (int rounds = 0; (off < payload.size() || got.size() < payload.size()) && rounds < 100000; ++rounds) {
    if (off < payload.size()) {
      auto io = client->write(payload.data() + off, payload.size() - off, n);
      if (io == TlsConn::Io::kOk) {
        off += n;
      } else {
        REQUIRE(io == TlsConn::Io::kWantWrite);
        saw_want_write = true;
      }
    }
    for (;;) {
      auto io = server->read(buf, sizeof buf, n);
      if (io != TlsConn::Io::kOk) {
        REQUIRE(io == TlsConn::Io::kWantRead);
        break;
      }
      got.append(buf, n);
      if (server->drained()) break;  // nothing left in the socket nor in OpenSSL
    }
  }
  CHECK(saw_want_write);
  CHECK(got.size() == payload.size());
  CHECK(got == payload);

  // drained(): false while OpenSSL still holds decrypted bytes, true once the
  // last recv came up short and everything was handed out.
  REQUIRE(client->write("hello", 5, n) == TlsConn::Io::kOk);
  REQUIRE(server->read(buf, 2, n) == TlsConn::Io::kOk);
  CHECK(n == 2);
  CHECK(!server->drained());
  REQUIRE(server->read(buf, sizeof buf, n) == TlsConn::Io::kOk);
  CHECK(std::string(buf, n) == "llo");
  CHECK(server->drained());

  // A close_notify reads as kClosed.
  client->shutdown();
  CHECK(server->read(buf, sizeof buf, n) == TlsConn::Io::kClosed);
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST_CASE("TlsConn: a certificate for another name is refused", "[tls]") {
  const Pki& p = pki();
  auto server_ctx = codis::tls::make_server_context({p.cert, p.key, ""});
  auto client_ctx = codis::tls::make_client_context({p.ca, "", ""});
  REQUIRE(server_ctx.ok());
  REQUIRE(client_ctx.ok());
  for (const char* name : {"10.1.2.3", "other.test"}) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    nonblocking(sv[0]);
    nonblocking(sv[1]);
    std::string err;
    auto server = TlsConn::accept(server_ctx->get(), sv[0], err);
    auto client = TlsConn::connect(client_ctx->get(), sv[1], name, "", err);
    REQUIRE(!handshake(*client, *server));
    CHECK(client->error().find("certificate") != std::string::npos);
    ::close(sv[0]);
    ::close(sv[1]);
  }
  // The configured server name wins over the address.
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  nonblocking(sv[0]);
  nonblocking(sv[1]);
  std::string err;
  auto server = TlsConn::accept(server_ctx->get(), sv[0], err);
  auto client = TlsConn::connect(client_ctx->get(), sv[1], "10.1.2.3", "proxy.test", err);
  CHECK(handshake(*client, *server));
  ::close(sv[0]);
  ::close(sv[1]);
}
