// Reading Codis's model nodes (groups, slots, proxies, the sentinel list,
// the dashboard lock) from a coordinator: shared by the dashboard's load and
// a proxy starting from the coordinator.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codis/coordinator.h"
#include "codis/models.h"

namespace codis::models {

// The model stored at path; nullopt when the node is absent or empty.
template <class T>
Result<std::optional<T>> read_node(Coordinator& c, const std::string& path) {
  auto data = c.read(path);
  if (!data) return data.status();
  if (!data->has_value() || (*data)->empty()) return std::optional<T>();
  auto m = parse_json<T>(**data);
  if (!m) return Result<std::optional<T>>::Error("bad node " + path + ": " + m.message());
  return std::optional<T>(std::move(*m));
}

// Every model stored under dir, in node-name order (absent or empty nodes skipped).
template <class T>
Result<std::vector<T>> read_dir(Coordinator& c, const std::string& dir) {
  auto names = c.list(dir);
  if (!names) return names.status();
  std::vector<T> out;
  for (const auto& name : *names) {
    auto m = read_node<T>(c, dir + "/" + name);
    if (!m) return m.status();
    if (m->has_value()) out.push_back(std::move(**m));
  }
  return out;
}

}  // namespace codis::models
