// The filesystem coordinator: Codis's fsclient layout, atomic writes,
// ephemeral nodes released when their process dies, polling watches, bad
// paths. (The ZooKeeper coordinator is tested against a real server in
// tests/coordinator/.)
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "codis/coordinator.h"
#include "codis/models.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempRoot {
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "codis-coord-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::unique_ptr<codis::Coordinator> open_fs(const fs::path& root) {
  codis::CoordinatorOptions o;
  o.poll_interval = 20ms;
  o.timeout = 2s;
  auto c = codis::connect_coordinator_with("filesystem", root.string(), o);
  REQUIRE(c.ok());
  return std::move(*c);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<std::string> read_of(codis::Coordinator& c, const std::string& path) {
  auto r = c.read(path);
  REQUIRE(r.ok());
  return *r;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 3s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

}  // namespace

TEST_CASE("filesystem coordinator: CRUD in Codis's fsclient layout", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  CHECK(c->describe() == "filesystem " + root.path.string());

  const std::string slot = codis::models::path::slot("demo", 7);
  REQUIRE(c->create(slot, "{\n    \"id\": 7\n}").ok());
  // The value sits in data/<path>, as Codis's fsclient keeps it.
  CHECK(slurp(root.path / "data/codis3/demo/slots/slot-0007") == "{\n    \"id\": 7\n}");
  CHECK(read_of(*c, slot) == "{\n    \"id\": 7\n}");
  CHECK(read_of(*c, "/codis3/demo/slots/slot-0008") == std::nullopt);
  CHECK(read_of(*c, "/codis3/demo") == "");  // a directory-like node

  auto again = c->create(slot, "x");
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.message(), Catch::Contains(slot) && Catch::Contains("already exists"));

  REQUIRE(c->update(slot, "v2").ok());
  CHECK(read_of(*c, slot) == "v2");
  REQUIRE(c->update("/codis3/demo/group/group-0001", "g").ok());  // creates
  CHECK(*c->list("/codis3/demo") == std::vector<std::string>{"group", "slots"});
  CHECK(*c->list("/") == std::vector<std::string>{"codis3"});
  CHECK(c->list("/codis3/nothing")->empty());
  CHECK(c->list(slot)->empty());  // a leaf has no children

  auto busy = c->remove("/codis3/demo/slots");
  REQUIRE_FALSE(busy.ok());
  CHECK_THAT(busy.message(), Catch::Contains("children"));
  REQUIRE(c->remove(slot).ok());
  REQUIRE(c->remove(slot).ok());  // absent is fine
  REQUIRE(c->remove("/codis3/demo/slots").ok());
  CHECK(*c->list("/codis3/demo") == std::vector<std::string>{"group"});
}

TEST_CASE("filesystem coordinator: a node with data and children", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  REQUIRE(c->create("/a", "parent").ok());
  REQUIRE(c->create("/a/b", "child").ok());  // the leaf /a becomes a directory
  CHECK(read_of(*c, "/a") == "parent");
  CHECK(read_of(*c, "/a/b") == "child");
  CHECK(*c->list("/a") == std::vector<std::string>{"b"});  // .data stays hidden
  REQUIRE(c->update("/a", "parent2").ok());
  CHECK(read_of(*c, "/a") == "parent2");
  REQUIRE(c->remove("/a/b").ok());
  REQUIRE(c->remove("/a").ok());
  CHECK(read_of(*c, "/a") == std::nullopt);
}

TEST_CASE("filesystem coordinator: bad paths are rejected", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  for (const std::string& bad : std::vector<std::string>{"", "codis3", "/", "/a/", "/a//b", "/a/./b", "/a/../b", "/../etc",
                          "/a/.data", std::string("/a\nb"), std::string("/a\0b", 4)}) {
    INFO("path: " << bad);
    auto s = c->create(bad, "x");
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::StartsWith("invalid coordinator path"));
    CHECK_FALSE(c->read(bad).ok());
  }
  CHECK_FALSE(c->list("/a/").ok());
  CHECK_FALSE(c->watch_data("/", [] {}).ok());
  CHECK(c->list("/").ok());
  CHECK_FALSE(fs::exists(root.path / "etc"));
  CHECK(codis::check_coordinator_path("/codis3/demo/proxy/proxy-0123abcd").ok());
}

TEST_CASE("filesystem coordinator: unknown coordinator names", "[coordinator]") {
  auto c = codis::connect_coordinator("consul", "127.0.0.1:8500");
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.message(), Catch::Contains("zookeeper, etcd or filesystem"));
}

TEST_CASE("filesystem coordinator: readers never see a partial write", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  const std::string a(200000, 'a'), b(300000, 'b');
  REQUIRE(c->create("/codis3/demo/topom", a).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    auto other = open_fs(root.path);  // another client, as another process would be
    while (!stop) {
      auto r = other->read("/codis3/demo/topom");
      if (!r.ok() || !r->has_value() || (**r != a && **r != b)) ++bad;
      ++reads;
    }
  });
  for (int i = 0; i < 30; ++i) REQUIRE(c->update("/codis3/demo/topom", i % 2 ? a : b).ok());
  while (reads < 20) std::this_thread::sleep_for(1ms);
  stop = true;
  reader.join();
  CHECK(bad == 0);
  CHECK(fs::is_empty(root.path / "temp"));  // no temporary file left behind
}

TEST_CASE("filesystem coordinator: ephemeral nodes die with their process", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  const std::string jodis = codis::models::path::jodis("demo", "t1");

  SECTION("a child that exits without cleaning up") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto child = codis::connect_coordinator("filesystem", root.path.string());
      bool ok = child.ok() && (*child)->create_ephemeral(jodis, "{\"addr\":\"x\"}").ok();
      ::_exit(ok ? 0 : 1);  // no destructor: as if the process crashed
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK(fs::exists(root.path / "data/jodis/demo/proxy-t1"));  // left on disk...
    CHECK(read_of(*c, jodis) == std::nullopt);                  // ...but dead
    CHECK(c->list("/jodis/demo")->empty());
    REQUIRE(c->create_ephemeral(jodis, "mine").ok());  // and the path can be taken
    CHECK(read_of(*c, jodis) == "mine");
  }

  SECTION("a child killed while holding it") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ready[0]);
      auto child = codis::connect_coordinator("filesystem", root.path.string());
      char r = child.ok() && (*child)->create_ephemeral(jodis, "alive").ok() ? '1' : '0';
      (void)!::write(ready[1], &r, 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char r = 0;
    REQUIRE(::read(ready[0], &r, 1) == 1);
    ::close(ready[0]);
    REQUIRE(r == '1');
    CHECK(read_of(*c, jodis) == "alive");
    auto taken = c->create_ephemeral(jodis, "mine");
    REQUIRE_FALSE(taken.ok());
    CHECK_THAT(taken.message(), Catch::Contains("already exists"));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    CHECK(read_of(*c, jodis) == std::nullopt);
  }

  SECTION("destroying the coordinator removes its ephemeral nodes") {
    auto owner = open_fs(root.path);
    REQUIRE(owner->create_ephemeral(jodis, "x").ok());
    REQUIRE(owner->create_ephemeral(jodis, "x2").ok());  // its own node: replaced
    REQUIRE(owner->update(jodis, "online").ok());        // stays ephemeral
    CHECK(read_of(*c, jodis) == "online");
    auto child = owner->create(jodis + "/x", "y");
    REQUIRE_FALSE(child.ok());
    CHECK_THAT(child.message(), Catch::Contains("ephemeral"));
    owner.reset();
    CHECK(read_of(*c, jodis) == std::nullopt);
    CHECK_FALSE(fs::exists(root.path / "data/jodis/demo/proxy-t1"));
  }
}

TEST_CASE("filesystem coordinator: watches fire until the handle goes", "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  auto writer = open_fs(root.path);
  std::atomic<int> children{0}, data{0};
  auto wc = c->watch_children("/codis3/demo/proxy", [&] { ++children; });  // dir absent yet
  auto wd = c->watch_data("/codis3/demo/topom", [&] { ++data; });
  REQUIRE(wc.ok());
  REQUIRE(wd.ok());

  REQUIRE(writer->create("/codis3/demo/proxy/proxy-1", "p").ok());
  CHECK(eventually([&] { return children >= 1; }));
  int seen = children;
  REQUIRE(writer->create("/codis3/demo/proxy/proxy-2", "p").ok());
  CHECK(eventually([&] { return children > seen; }));
  seen = children;
  REQUIRE(writer->update("/codis3/demo/proxy/proxy-2", "changed").ok());  // not a child change
  std::this_thread::sleep_for(100ms);
  CHECK(children == seen);

  REQUIRE(writer->create("/codis3/demo/topom", "t1").ok());
  CHECK(eventually([&] { return data >= 1; }));
  int d = data;
  REQUIRE(writer->update("/codis3/demo/topom", "t2").ok());
  CHECK(eventually([&] { return data > d; }));
  d = data;
  REQUIRE(writer->remove("/codis3/demo/topom").ok());
  CHECK(eventually([&] { return data > d; }));

  wd->reset();  // no call after the handle is gone
  d = data;
  REQUIRE(writer->create("/codis3/demo/topom", "t3").ok());
  std::this_thread::sleep_for(100ms);
  CHECK(data == d);

  // A callback may drop its own handle and use the coordinator.
  std::unique_ptr<codis::WatchHandle> self;
  std::atomic<int> self_calls{0};
  auto w = c->watch_data("/codis3/demo/sentinel", [&] {
    ++self_calls;
    (void)c->read("/codis3/demo/sentinel");
    self.reset();
  });
  REQUIRE(w.ok());
  self = std::move(*w);
  REQUIRE(writer->update("/codis3/demo/sentinel", "s").ok());
  CHECK(eventually([&] { return self_calls == 1; }));
  REQUIRE(writer->update("/codis3/demo/sentinel", "s2").ok());
  std::this_thread::sleep_for(100ms);
  CHECK(self_calls == 1);
}

TEST_CASE("filesystem coordinator: a watch sees a dead owner's ephemeral node go",
          "[coordinator]") {
  TempRoot root;
  auto c = open_fs(root.path);
  std::atomic<int> calls{0};
  auto w = c->watch_children("/jodis/demo", [&] { ++calls; });
  REQUIRE(w.ok());
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto child = codis::connect_coordinator("filesystem", root.path.string());
    bool ok = child.ok() && (*child)->create_ephemeral("/jodis/demo/proxy-z", "z").ok();
    ::usleep(300 * 1000);
    ::_exit(ok ? 0 : 1);
  }
  CHECK(eventually([&] { return calls >= 1; }));  // appeared
  int seen = calls;
  ::waitpid(pid, nullptr, 0);
  CHECK(eventually([&] { return calls > seen; }));  // and went with its process
  CHECK(c->list("/jodis/demo")->empty());
}

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Sets the process umask for a scope (the umask is process-wide: these tests
// create files only on this thread while it is set).
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

}  // namespace

TEST_CASE("filesystem coordinator: only its owner can read or change the store", "[coordinator]") {
  // Whatever the umask: a permissive one (000) and one that takes away the
  // owner's own bits (0277). Files 0600, directories 0700, the new root too.
  for (mode_t mask : {mode_t(0), mode_t(0277), mode_t(022)}) {
    INFO("umask " << std::oct << mask);
    TempRoot tmp;
    const fs::path root = tmp.path / "store";  // created by the coordinator
    {
      Umask u(mask);
      auto c = open_fs(root);
      REQUIRE(c->create("/codis3/demo/slots/slot-0001", "s").ok());     // parents created
      REQUIRE(c->update("/codis3/demo/topom", "t").ok());               // atomic write (temp + rename)
      REQUIRE(c->create("/codis3/demo/topom/child", "c").ok());         // a leaf turned into a directory
      REQUIRE(c->create_ephemeral("/jodis/demo/proxy-1", "p").ok());    // with its owner record
      CHECK(mode_of(root) == 0700);
      for (const char* dir : {"data", "temp", "owners", "data/codis3", "data/codis3/demo", "data/codis3/demo/slots",
                              "data/codis3/demo/topom", "data/jodis", "data/jodis/demo"}) {
        INFO(dir);
        CHECK(mode_of(root / dir) == 0700);
      }
      for (const char* file : {"data.lck", "data/codis3/demo/slots/slot-0001", "data/codis3/demo/topom/.data",
                               "data/codis3/demo/topom/child", "data/jodis/demo/proxy-1"}) {
        INFO(file);
        CHECK(mode_of(root / file) == 0600);
      }
      size_t records = 0;
      for (const auto& e : fs::directory_iterator(root / "owners")) {
        CHECK(mode_of(e.path()) == 0600);
        ++records;
      }
      CHECK(records == 1);
    }
  }
}

TEST_CASE("filesystem coordinator: a store made by an older version is tightened at open", "[coordinator]") {
  TempRoot tmp;
  {
    auto c = open_fs(tmp.path);
    REQUIRE(c->create("/codis3/demo/topom", "t").ok());
  }
  for (const char* dir : {"data", "temp", "owners"}) fs::permissions(tmp.path / dir, fs::perms(0755));
  fs::permissions(tmp.path / "data.lck", fs::perms(0644));
  auto c = open_fs(tmp.path);
  for (const char* dir : {"data", "temp", "owners"}) CHECK(mode_of(tmp.path / dir) == 0700);
  CHECK(mode_of(tmp.path / "data.lck") == 0600);
  CHECK(read_of(*c, "/codis3/demo/topom") == "t");
}

TEST_CASE("filesystem coordinator: a root other users may write to is refused", "[coordinator]") {
  TempRoot tmp;
  fs::permissions(tmp.path, fs::perms(0777));
  auto c = codis::connect_coordinator("filesystem", tmp.path.string());
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.message(), Catch::Contains(tmp.path.string()) && Catch::Contains("other users") &&
                              Catch::Contains("0777"));
  CHECK_FALSE(fs::exists(tmp.path / "data"));  // nothing created
  fs::permissions(tmp.path, fs::perms(01777));   // sticky, as /tmp: others cannot rename our entries
  CHECK(codis::connect_coordinator("filesystem", tmp.path.string()).ok());
}
