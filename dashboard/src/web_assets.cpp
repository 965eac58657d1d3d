#include "web_assets.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

namespace codis::dashboard {

namespace fs = std::filesystem;

namespace {

std::string_view content_type(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  }};
  for (const auto& [ext, type] : types) {
    if (name.size() > ext.size() && name.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || c == '\0' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

bool has_index(const std::string& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(fs::path(dir) / "index.html", ec);
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

http::Reply not_found() { return http::text(404, "404 page not found\n"); }

}  // namespace

WebAssets::WebAssets(std::string dir, std::vector<std::string> searched)
    : dir_(std::move(dir)), searched_(std::move(searched)) {}

std::vector<std::string> WebAssets::default_dirs(const std::string& argv0) {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) exe = fs::absolute(argv0, ec);
  std::vector<std::string> dirs;
  if (!exe.empty()) {
    const fs::path bin = exe.parent_path();
    dirs.push_back((bin / ".." / ".." / "web-fe" / "dist").lexically_normal().string());
    dirs.push_back((bin / ".." / "share" / "codis" / "web-fe").lexically_normal().string());
  }
  dirs.emplace_back("/usr/share/codis/web-fe");
  return dirs;
}

std::string WebAssets::find(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    if (has_index(d)) return d;
  }
  return "";
}

http::Reply WebAssets::not_built() const {
  std::ostringstream page;
  page << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Codis dashboard: web UI not "
          "built</title></head>\n<body style=\"font-family: sans-serif; max-width: 46em; margin: 2em auto\">\n"
          "<h1>The web UI is not built</h1>\n"
       << "<p>This codis-dashboard serves its API, but found no built operator UI (web-fe/dist with an "
          "index.html)";
  if (!dir_.empty()) {
    page << " in <code>" << html_escape(dir_) << "</code>";
  } else if (!searched_.empty()) {
    page << ". It looked in:</p>\n<ul>";
    for (const auto& d : searched_) page << "<li><code>" << html_escape(d) << "</code></li>";
    page << "</ul>\n<p>";
  }
  page << ".</p>\n<p>Build it from the source tree with <code>deploy/build.sh</code> (or <code>cd web-fe &amp;&amp; "
          "npm ci &amp;&amp; npm run build</code>) and reload this page, or start the dashboard with "
          "<code>--assets-dir DIR</code> pointing at a built bundle.</p>\n"
          "<p>The API works meanwhile: <a href=\"topom\">/topom</a> (overview JSON), "
          "<a href=\"topom/stats\">/topom/stats</a>, <a href=\"metrics\">/metrics</a>.</p>\n</body></html>\n";
  http::Reply r = http::text(200, page.str(), "text/html; charset=utf-8");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

http::Reply WebAssets::serve(const std::string& rel) const {
  std::string_view name = rel;
  bool hashed = false;  // Vite's assets/ carry a content hash in their names
  if (name.empty() || name == "index.html") {
    if (!has_index(dir_)) return not_built();
    name = "index.html";
  } else if (name.starts_with("assets/")) {
    name.remove_prefix(7);
    if (!safe_name(name)) return not_found();
    hashed = true;
  } else if (!safe_name(name)) {
    return not_found();
  }
  if (dir_.empty()) return not_found();
  const fs::path file = fs::path(dir_) / (hashed ? "assets" : "") / std::string(name);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return not_found();
  // Belt and braces: whatever the name, the file must be inside the bundle.
  const auto root = fs::weakly_canonical(dir_, ec);
  const auto real = fs::weakly_canonical(file, ec);
  if (ec) return not_found();
  const auto [r_end, f_it] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (r_end != root.end()) return not_found();
  std::ifstream in(file, std::ios::binary);
  if (!in) return not_found();
  std::ostringstream body;
  body << in.rdbuf();
  http::Reply r = http::text(200, body.str(), content_type(name));
  r.headers.emplace_back("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

void add_web_routes(http::Router& router, const WebAssets& assets) {
  router.add("GET", "/", [assets](const http::Request&) { return assets.serve(""); });
  router.add("GET", "/assets/:file",
             [assets](const http::Request& req) { return assets.serve("assets/" + std::string(req.param("file"))); });
  router.add_fallback("GET", "/:file",
                      [assets](const http::Request& req) { return assets.serve(std::string(req.param("file"))); });
}

}  // namespace codis::dashboard
