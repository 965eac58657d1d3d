#include "admin_views.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace codis::admin {

namespace {

const Json &member(const Json &v, std::string_view key) {
  static const Json null;
  if (!v.is_object())
    return null;
  auto it = v.find(key);
  return it == v.end() ? null : *it;
}

std::string str(const Json &v) {
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_null())
    return "";
  return v.dump();
}

long long integer(const Json &v) {
  if (v.is_number_integer())
    return v.get<long long>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
    }
  }
  return 0;
}

std::string zero_pad(long long n, size_t width) {
  std::string s = std::to_string(n);
  if (s.size() < width)
    s.insert(0, width - s.size(), '0');
  return s;
}

std::string left(const std::string &s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

const Json &array_of(const Json &v) {
  static const Json empty = Json::array();
  return v.is_array() ? v : empty;
}

// "[?]", "[E]", "[T]" or "" when the poll result has usable stats.
std::string poll_mark(const Json &polled) {
  if (polled.is_null())
    return "[?]";
  if (!member(polled, "error").is_null())
    return "[E]";
  if (member(polled, "timeout").is_boolean() &&
      member(polled, "timeout").get<bool>())
    return "[T]";
  if (member(polled, "stats").is_null())
    return "[T]";
  return "";
}

} // namespace

std::string pretty(const Json &v) { return v.dump(4) + "\n"; }

std::string group_status(const Json &stats) {
  const Json &groups = array_of(member(member(stats, "group"), "models"));
  const Json &polled = member(member(stats, "group"), "stats");
  size_t wgid = 0, widx = 0, waddr = 0;
  for (const auto &g : groups) {
    wgid = std::max(wgid, std::to_string(integer(member(g, "id"))).size());
    const Json &servers = array_of(member(g, "servers"));
    for (size_t i = 0; i < servers.size(); ++i) {
      widx = std::max(widx, std::to_string(i).size());
      waddr = std::max(waddr, str(member(servers[i], "server")).size());
    }
  }
  std::ostringstream out;
  for (const auto &g : groups) {
    const Json &servers = array_of(member(g, "servers"));
    for (size_t i = 0; i < servers.size(); ++i) {
      const std::string addr = str(member(servers[i], "server"));
      const std::string line =
          "group-" + zero_pad(integer(member(g, "id")), wgid) + " [" +
          zero_pad(static_cast<long long>(i), widx) + "] " + left(addr, waddr);
      const Json &p = member(polled, addr);
      if (auto mark = poll_mark(p); !mark.empty()) {
        out << mark << " " << line << "\n";
        continue;
      }
      const Json &info = member(p, "stats");
      std::string master = "NO:ONE";
      if (const Json &m = member(info, "master_addr"); !m.is_null()) {
        master = str(m) + ":" + str(member(info, "master_link_status"));
      }
      const std::string expect =
          i == 0 ? "NO:ONE" : str(member(servers[0], "server")) + ":up";
      out << (master == expect ? "[ ] " : "[X] ") << line << "      ==> "
          << master << "\n";
    }
  }
  return out.str();
}

std::string proxy_status(const Json &stats) {
  const Json &proxies = array_of(member(member(stats, "proxy"), "models"));
  const Json &polled = member(member(stats, "proxy"), "stats");
  size_t wpid = 0, wadmin = 0, wproxy = 0;
  for (const auto &p : proxies) {
    wpid = std::max(wpid, std::to_string(integer(member(p, "id"))).size());
    wadmin = std::max(wadmin, str(member(p, "admin_addr")).size());
    wproxy = std::max(wproxy, str(member(p, "proxy_addr")).size());
  }
  std::ostringstream out;
  for (const auto &p : proxies) {
    const std::string token = str(member(p, "token"));
    std::string mark = poll_mark(member(polled, token));
    if (mark.empty())
      mark = "[ ]";
    out << mark << " proxy-" << zero_pad(integer(member(p, "id")), wpid)
        << " [T] " << token << " [A] "
        << left(str(member(p, "admin_addr")), wadmin) << " [P] "
        << left(str(member(p, "proxy_addr")), wproxy) << "\n";
  }
  return out.str();
}

std::string rebalance_plan(const Json &plan) {
  std::map<long long, long long> moves; // sid -> gid, sorted by slot
  if (plan.is_object()) {
    for (const auto &[sid, gid] : plan.items())
      moves[integer(Json(sid))] = integer(gid);
  }
  if (moves.empty())
    return "nothing changes\n";
  std::ostringstream out;
  auto flush = [&out](long long beg, long long end, long long gid) {
    out << "[" << zero_pad(beg, 4) << "," << zero_pad(end, 4) << "] => " << gid
        << "\n";
  };
  long long beg = -1, end = -1, gid = -1;
  for (const auto &[sid, g] : moves) {
    if (beg >= 0 && sid == end + 1 && g == gid) {
      end = sid;
      continue;
    }
    if (beg >= 0)
      flush(beg, end, gid);
    beg = end = sid;
    gid = g;
  }
  flush(beg, end, gid);
  out << "done\n";
  return out.str();
}

Json select_view(const Json &overview, std::string_view view, bool dashboard) {
  if (view.empty() || view == "overview")
    return overview;
  if (view == "config" || view == "model" || view == "stats")
    return member(overview, view);
  if (!dashboard)
    return member(overview, view); // proxy: slots
  const Json &stats = member(overview, "stats");
  if (view == "slots" || view == "group" || view == "proxy")
    return member(stats, view);
  if (view == "list-group")
    return member(member(stats, "group"), "models");
  if (view == "list-proxy")
    return member(member(stats, "proxy"), "models");
  return Json();
}

} // namespace codis::admin
