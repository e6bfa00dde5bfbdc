// Ini files as uWSGI reads them.
#include "config/ini_reader.hpp"

#include "test_support.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

namespace trellis::config::testing {
namespace {

IniResult read(const std::string& spec) {
  IniResult out;
  read_ini(spec, {}, out);
  return out;
}

TEST(IniReader, CommentsBlankLinesWhitespaceAndQuotes) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "; leading comment\n"
                             "[trellis]\r\n"
                             "  # indented comment\n"
                             "\n"
                             "   processes   =   4   \n"
                             "module = \"quoted; not special\"\n"
                             "empty =\n"
                             "master\n"
                             "env = A=B\n");
  const auto result = read(ini);
  ASSERT_EQ(result.entries.size(), 5u);
  EXPECT_EQ(result.entries[0].key, "processes");
  EXPECT_EQ(result.entries[0].value, "4");
  EXPECT_EQ(result.entries[0].origin, ini + ":5");
  EXPECT_EQ(result.entries[1].value, "\"quoted; not special\"");
  EXPECT_EQ(result.entries[2].value, "");
  EXPECT_EQ(result.entries[3].key, "master");
  EXPECT_FALSE(result.entries[3].value.has_value());  // bare key: a flag
  EXPECT_EQ(result.entries[4].value, "A=B");          // only the first '=' splits
  EXPECT_EQ(result.files, std::vector<std::string>{ini});
}

TEST(IniReader, TrellisSectionWinsOverUwsgiAndOthersAreIgnored) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "[uwsgi]\nprocesses = 1\n[other]\nthis is ! not our syntax\n"
                             "[trellis]\nprocesses = 2\n[trellis]\nthreads = 3\n");
  const auto result = read(ini);
  ASSERT_EQ(result.entries.size(), 2u);
  EXPECT_EQ(result.entries[0].value, "2");
  EXPECT_EQ(result.entries[1].key, "threads");  // repeated section headers merge
  EXPECT_FALSE(result.entries[0].uwsgi_section);
}

TEST(IniReader, UwsgiSectionWhenThereIsNoTrellisSection) {
  TempDir dir;
  const auto result = read(dir.write("u.ini", "[uwsgi]\nprocesses = 7\n"));
  ASSERT_EQ(result.entries.size(), 1u);
  EXPECT_EQ(result.entries[0].value, "7");
  EXPECT_TRUE(result.entries[0].uwsgi_section);
}

TEST(IniReader, ExplicitSection) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\nprocesses = 1\n[prod]\nprocesses = 16\n");
  const auto result = read(ini + ":prod");
  ASSERT_EQ(result.entries.size(), 1u);
  EXPECT_EQ(result.entries[0].value, "16");
  EXPECT_EQ(result.entries[0].origin, ini + ":4");
}

TEST(IniReader, MagicVariables) {
  TempDir dir;
  const auto ini = dir.write("sub/myapp.ini",
                             "[trellis]\n"
                             "a = %d\n"
                             "b = %dstatic/%n.sock\n"
                             "c = %p\n"
                             "d = 100%%\n"
                             "e = %c/%s\n"
                             "f = %q stays, trailing %\n");
  const auto result = read(ini);
  const std::string d = (dir.path() / "sub").string() + "/";
  ASSERT_EQ(result.entries.size(), 6u);
  EXPECT_EQ(result.entries[0].value, d);
  EXPECT_EQ(result.entries[1].value, d + "static/myapp.sock");
  EXPECT_EQ(result.entries[2].value, ini);
  EXPECT_EQ(result.entries[3].value, "100%");
  EXPECT_EQ(result.entries[4].value, "sub/myapp.ini");
  EXPECT_EQ(result.entries[5].value, "%q stays, trailing %");
}

TEST(IniReader, PlaceholdersExpandEarlierKeys) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "[uwsgi]\n"
                             "base = /srv/app\n"
                             "chdir = %(base)\n"
                             "pythonpath = %(base)/lib\n"
                             "pythonpath = %(base)/vendor:%(chdir)\n"
                             "socket = /run/%n.sock\n"
                             "http-socket = %(socket)\n");
  const auto result = read(ini);
  ASSERT_EQ(result.entries.size(), 6u);
  EXPECT_EQ(result.entries[1].value, "/srv/app");
  EXPECT_EQ(result.entries[2].value, "/srv/app/lib");
  EXPECT_EQ(result.entries[3].value, "/srv/app/vendor:/srv/app");
  EXPECT_EQ(result.entries[5].value, "/run/app.sock");  // an option, magic expanded
  // Entries whose value was used are marked, the others are not.
  EXPECT_TRUE(result.entries[0].placeholder);   // base
  EXPECT_TRUE(result.entries[1].placeholder);   // chdir
  EXPECT_FALSE(result.entries[2].placeholder);  // pythonpath
  EXPECT_TRUE(result.entries[4].placeholder);   // socket
  EXPECT_FALSE(result.entries[5].placeholder);
}

TEST(IniReader, ChainedAndRedefinedPlaceholders) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "[trellis]\n"
                             "root = /srv\n"
                             "base = %(root)/app\n"
                             "venv = %(base)/venv\n"
                             "home = %(venv)\n"
                             "base = %(base)/v2\n"  // refers to the previous value
                             "after = %(base)\n");
  const auto result = read(ini);
  ASSERT_EQ(result.entries.size(), 6u);
  EXPECT_EQ(result.entries[1].value, "/srv/app");
  EXPECT_EQ(result.entries[2].value, "/srv/app/venv");
  EXPECT_EQ(result.entries[3].value, "/srv/app/venv");
  EXPECT_EQ(result.entries[4].value, "/srv/app/v2");
  EXPECT_EQ(result.entries[5].value, "/srv/app/v2");  // the latest value wins
}

TEST(IniReader, UndefinedPlaceholdersAreKeptLikeUwsgi) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "[uwsgi]\n"
                             "a = %(later)/x\n"
                             "later = 1\n"
                             "flag\n"
                             "b = %(flag) %(nope) %(unterminated\n"
                             "c = %%(later) %()\n");
  const auto result = read(ini);
  ASSERT_EQ(result.entries.size(), 5u);
  EXPECT_EQ(result.entries[0].value, "%(later)/x");  // only earlier keys count
  EXPECT_FALSE(result.entries[1].placeholder);
  EXPECT_EQ(result.entries[3].value, "%(flag) %(nope) %(unterminated");  // a bare key has no value
  EXPECT_EQ(result.entries[4].value, "%(later) %()");  // %% escapes the placeholder
}

TEST(IniReader, PlaceholdersCrossIncludesInFileOrder) {
  TempDir dir;
  dir.write("conf/common.ini", "[uwsgi]\nbase = /srv/common\nfrom-main = %(top)\n");
  const auto main = dir.write("conf/main.ini",
                              "[uwsgi]\n"
                              "top = /top\n"
                              "incdir = %d\n"
                              "ini = %(incdir)common.ini\n"
                              "chdir = %(base)\n"
                              "pythonpath = %(base)/lib\n");
  const auto result = read(main);
  std::vector<std::string> keys;
  for (const auto& e : result.entries) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"top", "incdir", "base", "from-main", "chdir", "pythonpath"}));
  EXPECT_EQ(result.entries[3].value, "/top");  // the included file sees the includer's earlier keys
  EXPECT_EQ(result.entries[4].value, "/srv/common");
  EXPECT_EQ(result.entries[5].value, "/srv/common/lib");
  EXPECT_TRUE(result.entries[2].placeholder);
  EXPECT_EQ(result.files.size(), 2u);
}

TEST(IniReader, MachineMagicVariables) {
  TempDir dir;
  const auto ini = dir.write("app.conf.ini", "[uwsgi]\nprocesses = %k\nhost = %h\nt = %t\nT = %T\nids = %u:%g\next = %e\n");
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const auto result = read(ini);
  const auto after = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_EQ(result.entries.size(), 6u);

  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GT(cpus, 0);
  EXPECT_EQ(result.entries[0].value, std::to_string(cpus));
  EXPECT_GE(std::stol(*result.entries[0].value), 1);
  if (std::thread::hardware_concurrency() != 0) {
    EXPECT_EQ(result.entries[0].value, std::to_string(std::thread::hardware_concurrency()));
  }

  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(result.entries[1].value, std::string(host));

  const long long t = std::stoll(*result.entries[2].value);
  EXPECT_GE(t, before);
  EXPECT_LE(t, after);
  const long long micros = std::stoll(*result.entries[3].value);
  EXPECT_GE(micros / 1000000, before);
  EXPECT_LE(micros / 1000000, after);

  EXPECT_EQ(result.entries[4].value, std::to_string(getuid()) + ":" + std::to_string(getgid()));
  EXPECT_EQ(result.entries[5].value, "ini");
}

TEST(IniReader, RelativePathsAreMadeAbsolute) {
  TempDir dir;
  dir.write("rel.ini", "[trellis]\nx = %p\n");
  const auto previous = fs::current_path();
  fs::current_path(dir.path());
  const auto result = read("rel.ini");
  fs::current_path(previous);
  EXPECT_EQ(result.entries.at(0).value, (dir.path() / "rel.ini").string());
}

TEST(IniReader, IncludesAreRelativeToTheIncludingFileAndInlined) {
  TempDir dir;
  dir.write("conf/common.ini", "[trellis]\nthreads = 2\nhome = %d\n");
  dir.write("conf/extra.ini", "[special]\nbuffer-size = 1\n");
  const auto main = dir.write("conf/main.ini",
                              "[trellis]\nprocesses = 1\nini = common.ini\nini = %dextra.ini:special\nprocesses = 3\n");
  const auto result = read(main);
  std::vector<std::string> keys;
  for (const auto& e : result.entries) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"processes", "threads", "home", "buffer-size", "processes"}));
  EXPECT_EQ(result.entries[2].value, (dir.path() / "conf").string() + "/");  // %d of the included file
  EXPECT_EQ(result.files.size(), 3u);
  EXPECT_EQ(result.files[1], (dir.path() / "conf/common.ini").string());
}

TEST(IniReader, IncludeLoopIsAnError) {
  TempDir dir;
  dir.write("a.ini", "[trellis]\nini = b.ini\n");
  dir.write("b.ini", "[trellis]\nini = a.ini\n");
  const auto e = error_of([&] { read((dir.path() / "a.ini").string()); });
  EXPECT_EQ(e.kind, ConfigError::Kind::file);
  EXPECT_NE(std::string(e.what()).find("ini include loop"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("b.ini"), std::string::npos);
}

TEST(IniReader, MissingFile) {
  TempDir dir;
  const auto path = (dir.path() / "nope.ini").string();
  const auto e = error_of([&] { read(path); });
  EXPECT_EQ(e.kind, ConfigError::Kind::file);
  EXPECT_EQ(std::string(e.what()), "ini file '" + path + "' not found");
}

TEST(IniReader, MissingSection) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[other]\nprocesses = 1\n");
  const auto none = error_of([&] { read(ini); });
  EXPECT_EQ(std::string(none.what()), "no [trellis] or [uwsgi] section in ini file '" + ini + "'");
  const auto named = error_of([&] { read(ini + ":prod"); });
  EXPECT_EQ(std::string(named.what()), "section [prod] not found in ini file '" + ini + "'");
}

TEST(IniReader, MalformedLinesNameFileAndLine) {
  TempDir dir;
  const auto no_key = dir.write("a.ini", "[trellis]\nprocesses = 1\n= 4\n");
  const auto e1 = error_of([&] { read(no_key); });
  EXPECT_EQ(e1.kind, ConfigError::Kind::syntax);
  EXPECT_EQ(std::string(e1.what()), no_key + ":3: missing option name before '='");

  const auto spaces = dir.write("b.ini", "[trellis]\n\n\nlazy apps = true\n");
  EXPECT_EQ(std::string(error_of([&] { read(spaces); }).what()),
            spaces + ":4: expected 'key = value', got 'lazy apps = true'");

  const auto header = dir.write("c.ini", "[trellis\nprocesses = 1\n");
  EXPECT_EQ(std::string(error_of([&] { read(header); }).what()), header + ":1: malformed section header '[trellis'");
}

}  // namespace
}  // namespace trellis::config::testing
