#include "codis/admin_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace codis::auth {

namespace {

std::string base64url(const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string trim_line(std::string s) {
  const auto end = s.find_first_of("\r\n");
  if (end != std::string::npos) s.resize(end);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  return s;
}

}  // namespace

std::string generate_secret() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed: no secure randomness");
  std::string s = base64url(raw, sizeof(raw));
  OPENSSL_cleanse(raw, sizeof(raw));
  return s;
}

std::string default_secret_file(const std::string& config_file) {
  namespace fs = std::filesystem;
  if (config_file.empty()) return (fs::current_path() / "admin_auth").string();
  return (fs::absolute(fs::path(config_file)).parent_path() / "admin_auth").string();
}

Result<AdminSecret> resolve_admin_secret(const std::string& configured, const std::string& file) {
  using R = Result<AdminSecret>;
  if (!configured.empty()) return AdminSecret{configured, "config", false};
  if (file.empty()) return R::Error("admin_auth is empty and no admin_auth_file is given");
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return R::Error("admin_auth_file " + file + " is not a regular file");
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
      return R::Error("admin_auth_file " + file + " is open to other users (mode " + mode + "): chmod 600 it");
    }
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    if (!in && !in.eof()) return R::Error("cannot read admin_auth_file " + file);
    line = trim_line(line);
    if (line.empty()) return R::Error("admin_auth_file " + file + " is empty: put the secret on its first line");
    return AdminSecret{line, file, false};
  }
  if (errno != ENOENT) return R::Error("cannot read admin_auth_file " + file + ": " + std::strerror(errno));

  namespace fs = std::filesystem;
  const fs::path parent = fs::path(file).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (!fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec) return R::Error("cannot create the directory of admin_auth_file " + file + ": " + ec.message());
      ::chmod(parent.c_str(), 0700);
    }
  }
  const std::string secret = generate_secret();
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return resolve_admin_secret(configured, file);  // another daemon was quicker
    return R::Error("cannot create admin_auth_file " + file + ": " + std::strerror(errno));
  }
  const std::string line = secret + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) {
    ::unlink(file.c_str());
    return R::Error("cannot write admin_auth_file " + file);
  }
  return AdminSecret{secret, file, true};
}

std::string_view bearer_token(std::string_view authorization) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  return authorization;
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int na = 0, nb = 0;
  if (EVP_Digest(a.data(), a.size(), da, &na, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(b.data(), b.size(), db, &nb, EVP_sha256(), nullptr) != 1) {
    return false;
  }
  return CRYPTO_memcmp(da, db, na) == 0;
}

Status resolve_at_start(std::string& secret, const std::string& secret_file, bool compat_xauth,
                        const std::string& config_file, std::string_view daemon) {
  const std::string file = secret_file.empty() ? default_secret_file(config_file) : secret_file;
  auto r = resolve_admin_secret(secret, file);
  if (!r) return Status::Error("admin secret: " + r.message());
  secret = r->secret;
  if (r->generated) {
    spdlog::warn("{}: admin_auth is not set: generated a new admin secret and stored it in {} (mode 0600). "
                 "Give the same secret to the dashboard, every proxy and codis-admin (--auth or "
                 "CODIS_ADMIN_AUTH), or set admin_auth / admin_auth_file.",
                 daemon, r->source);
  } else if (r->source == "config") {
    spdlog::info("{}: admin API secret: admin_auth from the config file", daemon);
  } else {
    spdlog::info("{}: admin API secret: read from {}", daemon, r->source);
  }
  if (compat_xauth) {
    spdlog::warn("{}: admin_compat_xauth = true: Codis's xauth, which anyone can compute from the product "
                 "name, is accepted in place of the admin secret, and Codis's reads are served to anyone. "
                 "Use it only on a trusted network, next to real Codis tools.",
                 daemon);
  }
  return Status::Ok();
}

}  // namespace codis::auth
