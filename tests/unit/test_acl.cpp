// The ACL engine (acl.h): Redis 7.0's glob matcher, rule parser and its error texts, users
// files, the command categories, the permission decision and ACL LIST formatting. The texts and
// glob results were taken from redis-server 7.0.15; tests/integration/test_acl_users.py
// compares the wired-up proxy with a live server.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "acl.h"
#include "codis/sha256.h"
#include "command_table.h"

using namespace codis::proxy;
using namespace codis::proxy::acl;

namespace {

struct GlobCase {
  const char* pattern;
  const char* text;
  bool match;
};

// Every pattern against every key, as `KEYS pattern` on redis-server 7.0.15 answered.
const GlobCase kGlobCases[] = {
    {"*", "a", true},
    {"*", "abc", true},
    {"*", "abd", true},
    {"*", "acd", true},
    {"*", "aed", true},
    {"*", "axd", true},
    {"*", "ace", true},
    {"*", "a*b", true},
    {"*", "axb", true},
    {"*", "a?", true},
    {"*", "ab", true},
    {"*", "]", true},
    {"*", "-", true},
    {"*", "a[", true},
    {"*", "xbyc", true},
    {"*", "hello", true},
    {"*", "hallo", true},
    {"*", "hillo", true},
    {"*", "h[a]llo", true},
    {"*", "x!y", true},
    {"*", "xay", true},
    {"*", "\\", true},
    {"*", "a\\", true},
    {"a*", "a", true},
    {"a*", "abc", true},
    {"a*", "abd", true},
    {"a*", "acd", true},
    {"a*", "aed", true},
    {"a*", "axd", true},
    {"a*", "ace", true},
    {"a*", "a*b", true},
    {"a*", "axb", true},
    {"a*", "a?", true},
    {"a*", "ab", true},
    {"a*", "]", false},
    {"a*", "-", false},
    {"a*", "a[", true},
    {"a*", "xbyc", false},
    {"a*", "hello", false},
    {"a*", "hallo", false},
    {"a*", "hillo", false},
    {"a*", "h[a]llo", false},
    {"a*", "x!y", false},
    {"a*", "xay", false},
    {"a*", "\\", false},
    {"a*", "a\\", true},
    {"*a", "a", true},
    {"*a", "abc", false},
    {"*a", "abd", false},
    {"*a", "acd", false},
    {"*a", "aed", false},
    {"*a", "axd", false},
    {"*a", "ace", false},
    {"*a", "a*b", false},
    {"*a", "axb", false},
    {"*a", "a?", false},
    {"*a", "ab", false},
    {"*a", "]", false},
    {"*a", "-", false},
    {"*a", "a[", false},
    {"*a", "xbyc", false},
    {"*a", "hello", false},
    {"*a", "hallo", false},
    {"*a", "hillo", false},
    {"*a", "h[a]llo", false},
    {"*a", "x!y", false},
    {"*a", "xay", false},
    {"*a", "\\", false},
    {"*a", "a\\", false},
    {"a?c", "a", false},
    {"a?c", "abc", true},
    {"a?c", "abd", false},
    {"a?c", "acd", false},
    {"a?c", "aed", false},
    {"a?c", "axd", false},
    {"a?c", "ace", false},
    {"a?c", "a*b", false},
    {"a?c", "axb", false},
    {"a?c", "a?", false},
    {"a?c", "ab", false},
    {"a?c", "]", false},
    {"a?c", "-", false},
    {"a?c", "a[", false},
    {"a?c", "xbyc", false},
    {"a?c", "hello", false},
    {"a?c", "hallo", false},
    {"a?c", "hillo", false},
    {"a?c", "h[a]llo", false},
    {"a?c", "x!y", false},
    {"a?c", "xay", false},
    {"a?c", "\\", false},
    {"a?c", "a\\", false},
    {"a[bc]d", "a", false},
    {"a[bc]d", "abc", false},
    {"a[bc]d", "abd", true},
    {"a[bc]d", "acd", true},
    {"a[bc]d", "aed", false},
    {"a[bc]d", "axd", false},
    {"a[bc]d", "ace", false},
    {"a[bc]d", "a*b", false},
    {"a[bc]d", "axb", false},
    {"a[bc]d", "a?", false},
    {"a[bc]d", "ab", false},
    {"a[bc]d", "]", false},
    {"a[bc]d", "-", false},
    {"a[bc]d", "a[", false},
    {"a[bc]d", "xbyc", false},
    {"a[bc]d", "hello", false},
    {"a[bc]d", "hallo", false},
    {"a[bc]d", "hillo", false},
    {"a[bc]d", "h[a]llo", false},
    {"a[bc]d", "x!y", false},
    {"a[bc]d", "xay", false},
    {"a[bc]d", "\\", false},
    {"a[bc]d", "a\\", false},
    {"a[^b]d", "a", false},
    {"a[^b]d", "abc", false},
    {"a[^b]d", "abd", false},
    {"a[^b]d", "acd", true},
    {"a[^b]d", "aed", true},
    {"a[^b]d", "axd", true},
    {"a[^b]d", "ace", false},
    {"a[^b]d", "a*b", false},
    {"a[^b]d", "axb", false},
    {"a[^b]d", "a?", false},
    {"a[^b]d", "ab", false},
    {"a[^b]d", "]", false},
    {"a[^b]d", "-", false},
    {"a[^b]d", "a[", false},
    {"a[^b]d", "xbyc", false},
    {"a[^b]d", "hello", false},
    {"a[^b]d", "hallo", false},
    {"a[^b]d", "hillo", false},
    {"a[^b]d", "h[a]llo", false},
    {"a[^b]d", "x!y", false},
    {"a[^b]d", "xay", false},
    {"a[^b]d", "\\", false},
    {"a[^b]d", "a\\", false},
    {"a[b-d]e", "a", false},
    {"a[b-d]e", "abc", false},
    {"a[b-d]e", "abd", false},
    {"a[b-d]e", "acd", false},
    {"a[b-d]e", "aed", false},
    {"a[b-d]e", "axd", false},
    {"a[b-d]e", "ace", true},
    {"a[b-d]e", "a*b", false},
    {"a[b-d]e", "axb", false},
    {"a[b-d]e", "a?", false},
    {"a[b-d]e", "ab", false},
    {"a[b-d]e", "]", false},
    {"a[b-d]e", "-", false},
    {"a[b-d]e", "a[", false},
    {"a[b-d]e", "xbyc", false},
    {"a[b-d]e", "hello", false},
    {"a[b-d]e", "hallo", false},
    {"a[b-d]e", "hillo", false},
    {"a[b-d]e", "h[a]llo", false},
    {"a[b-d]e", "x!y", false},
    {"a[b-d]e", "xay", false},
    {"a[b-d]e", "\\", false},
    {"a[b-d]e", "a\\", false},
    {"a[d-b]e", "a", false},
    {"a[d-b]e", "abc", false},
    {"a[d-b]e", "abd", false},
    {"a[d-b]e", "acd", false},
    {"a[d-b]e", "aed", false},
    {"a[d-b]e", "axd", false},
    {"a[d-b]e", "ace", true},
    {"a[d-b]e", "a*b", false},
    {"a[d-b]e", "axb", false},
    {"a[d-b]e", "a?", false},
    {"a[d-b]e", "ab", false},
    {"a[d-b]e", "]", false},
    {"a[d-b]e", "-", false},
    {"a[d-b]e", "a[", false},
    {"a[d-b]e", "xbyc", false},
    {"a[d-b]e", "hello", false},
    {"a[d-b]e", "hallo", false},
    {"a[d-b]e", "hillo", false},
    {"a[d-b]e", "h[a]llo", false},
    {"a[d-b]e", "x!y", false},
    {"a[d-b]e", "xay", false},
    {"a[d-b]e", "\\", false},
    {"a[d-b]e", "a\\", false},
    {"a\\*b", "a", false},
    {"a\\*b", "abc", false},
    {"a\\*b", "abd", false},
    {"a\\*b", "acd", false},
    {"a\\*b", "aed", false},
    {"a\\*b", "axd", false},
    {"a\\*b", "ace", false},
    {"a\\*b", "a*b", true},
    {"a\\*b", "axb", false},
    {"a\\*b", "a?", false},
    {"a\\*b", "ab", false},
    {"a\\*b", "]", false},
    {"a\\*b", "-", false},
    {"a\\*b", "a[", false},
    {"a\\*b", "xbyc", false},
    {"a\\*b", "hello", false},
    {"a\\*b", "hallo", false},
    {"a\\*b", "hillo", false},
    {"a\\*b", "h[a]llo", false},
    {"a\\*b", "x!y", false},
    {"a\\*b", "xay", false},
    {"a\\*b", "\\", false},
    {"a\\*b", "a\\", false},
    {"a\\?", "a", false},
    {"a\\?", "abc", false},
    {"a\\?", "abd", false},
    {"a\\?", "acd", false},
    {"a\\?", "aed", false},
    {"a\\?", "axd", false},
    {"a\\?", "ace", false},
    {"a\\?", "a*b", false},
    {"a\\?", "axb", false},
    {"a\\?", "a?", true},
    {"a\\?", "ab", false},
    {"a\\?", "]", false},
    {"a\\?", "-", false},
    {"a\\?", "a[", false},
    {"a\\?", "xbyc", false},
    {"a\\?", "hello", false},
    {"a\\?", "hallo", false},
    {"a\\?", "hillo", false},
    {"a\\?", "h[a]llo", false},
    {"a\\?", "x!y", false},
    {"a\\?", "xay", false},
    {"a\\?", "\\", false},
    {"a\\?", "a\\", false},
    {"[\\]]", "a", false},
    {"[\\]]", "abc", false},
    {"[\\]]", "abd", false},
    {"[\\]]", "acd", false},
    {"[\\]]", "aed", false},
    {"[\\]]", "axd", false},
    {"[\\]]", "ace", false},
    {"[\\]]", "a*b", false},
    {"[\\]]", "axb", false},
    {"[\\]]", "a?", false},
    {"[\\]]", "ab", false},
    {"[\\]]", "]", true},
    {"[\\]]", "-", false},
    {"[\\]]", "a[", false},
    {"[\\]]", "xbyc", false},
    {"[\\]]", "hello", false},
    {"[\\]]", "hallo", false},
    {"[\\]]", "hillo", false},
    {"[\\]]", "h[a]llo", false},
    {"[\\]]", "x!y", false},
    {"[\\]]", "xay", false},
    {"[\\]]", "\\", false},
    {"[\\]]", "a\\", false},
    {"[a-]", "a", true},
    {"[a-]", "abc", false},
    {"[a-]", "abd", false},
    {"[a-]", "acd", false},
    {"[a-]", "aed", false},
    {"[a-]", "axd", false},
    {"[a-]", "ace", false},
    {"[a-]", "a*b", false},
    {"[a-]", "axb", false},
    {"[a-]", "a?", false},
    {"[a-]", "ab", false},
    {"[a-]", "]", true},
    {"[a-]", "-", false},
    {"[a-]", "a[", false},
    {"[a-]", "xbyc", false},
    {"[a-]", "hello", false},
    {"[a-]", "hallo", false},
    {"[a-]", "hillo", false},
    {"[a-]", "h[a]llo", false},
    {"[a-]", "x!y", false},
    {"[a-]", "xay", false},
    {"[a-]", "\\", false},
    {"[a-]", "a\\", false},
    {"a[", "a", false},
    {"a[", "abc", false},
    {"a[", "abd", false},
    {"a[", "acd", false},
    {"a[", "aed", false},
    {"a[", "axd", false},
    {"a[", "ace", false},
    {"a[", "a*b", false},
    {"a[", "axb", false},
    {"a[", "a?", false},
    {"a[", "ab", false},
    {"a[", "]", false},
    {"a[", "-", false},
    {"a[", "a[", false},
    {"a[", "xbyc", false},
    {"a[", "hello", false},
    {"a[", "hallo", false},
    {"a[", "hillo", false},
    {"a[", "h[a]llo", false},
    {"a[", "x!y", false},
    {"a[", "xay", false},
    {"a[", "\\", false},
    {"a[", "a\\", false},
    {"a[b", "a", false},
    {"a[b", "abc", false},
    {"a[b", "abd", false},
    {"a[b", "acd", false},
    {"a[b", "aed", false},
    {"a[b", "axd", false},
    {"a[b", "ace", false},
    {"a[b", "a*b", false},
    {"a[b", "axb", false},
    {"a[b", "a?", false},
    {"a[b", "ab", true},
    {"a[b", "]", false},
    {"a[b", "-", false},
    {"a[b", "a[", false},
    {"a[b", "xbyc", false},
    {"a[b", "hello", false},
    {"a[b", "hallo", false},
    {"a[b", "hillo", false},
    {"a[b", "h[a]llo", false},
    {"a[b", "x!y", false},
    {"a[b", "xay", false},
    {"a[b", "\\", false},
    {"a[b", "a\\", false},
    {"*b*c*", "a", false},
    {"*b*c*", "abc", true},
    {"*b*c*", "abd", false},
    {"*b*c*", "acd", false},
    {"*b*c*", "aed", false},
    {"*b*c*", "axd", false},
    {"*b*c*", "ace", false},
    {"*b*c*", "a*b", false},
    {"*b*c*", "axb", false},
    {"*b*c*", "a?", false},
    {"*b*c*", "ab", false},
    {"*b*c*", "]", false},
    {"*b*c*", "-", false},
    {"*b*c*", "a[", false},
    {"*b*c*", "xbyc", true},
    {"*b*c*", "hello", false},
    {"*b*c*", "hallo", false},
    {"*b*c*", "hillo", false},
    {"*b*c*", "h[a]llo", false},
    {"*b*c*", "x!y", false},
    {"*b*c*", "xay", false},
    {"*b*c*", "\\", false},
    {"*b*c*", "a\\", false},
    {"**", "a", true},
    {"**", "abc", true},
    {"**", "abd", true},
    {"**", "acd", true},
    {"**", "aed", true},
    {"**", "axd", true},
    {"**", "ace", true},
    {"**", "a*b", true},
    {"**", "axb", true},
    {"**", "a?", true},
    {"**", "ab", true},
    {"**", "]", true},
    {"**", "-", true},
    {"**", "a[", true},
    {"**", "xbyc", true},
    {"**", "hello", true},
    {"**", "hallo", true},
    {"**", "hillo", true},
    {"**", "h[a]llo", true},
    {"**", "x!y", true},
    {"**", "xay", true},
    {"**", "\\", true},
    {"**", "a\\", true},
    {"?", "a", true},
    {"?", "abc", false},
    {"?", "abd", false},
    {"?", "acd", false},
    {"?", "aed", false},
    {"?", "axd", false},
    {"?", "ace", false},
    {"?", "a*b", false},
    {"?", "axb", false},
    {"?", "a?", false},
    {"?", "ab", false},
    {"?", "]", true},
    {"?", "-", true},
    {"?", "a[", false},
    {"?", "xbyc", false},
    {"?", "hello", false},
    {"?", "hallo", false},
    {"?", "hillo", false},
    {"?", "h[a]llo", false},
    {"?", "x!y", false},
    {"?", "xay", false},
    {"?", "\\", true},
    {"?", "a\\", false},
    {"??", "a", false},
    {"??", "abc", false},
    {"??", "abd", false},
    {"??", "acd", false},
    {"??", "aed", false},
    {"??", "axd", false},
    {"??", "ace", false},
    {"??", "a*b", false},
    {"??", "axb", false},
    {"??", "a?", true},
    {"??", "ab", true},
    {"??", "]", false},
    {"??", "-", false},
    {"??", "a[", true},
    {"??", "xbyc", false},
    {"??", "hello", false},
    {"??", "hallo", false},
    {"??", "hillo", false},
    {"??", "h[a]llo", false},
    {"??", "x!y", false},
    {"??", "xay", false},
    {"??", "\\", false},
    {"??", "a\\", true},
    {"[^a-c]*", "a", false},
    {"[^a-c]*", "abc", false},
    {"[^a-c]*", "abd", false},
    {"[^a-c]*", "acd", false},
    {"[^a-c]*", "aed", false},
    {"[^a-c]*", "axd", false},
    {"[^a-c]*", "ace", false},
    {"[^a-c]*", "a*b", false},
    {"[^a-c]*", "axb", false},
    {"[^a-c]*", "a?", false},
    {"[^a-c]*", "ab", false},
    {"[^a-c]*", "]", true},
    {"[^a-c]*", "-", true},
    {"[^a-c]*", "a[", false},
    {"[^a-c]*", "xbyc", true},
    {"[^a-c]*", "hello", true},
    {"[^a-c]*", "hallo", true},
    {"[^a-c]*", "hillo", true},
    {"[^a-c]*", "h[a]llo", true},
    {"[^a-c]*", "x!y", true},
    {"[^a-c]*", "xay", true},
    {"[^a-c]*", "\\", true},
    {"[^a-c]*", "a\\", false},
    {"h[ae]llo", "a", false},
    {"h[ae]llo", "abc", false},
    {"h[ae]llo", "abd", false},
    {"h[ae]llo", "acd", false},
    {"h[ae]llo", "aed", false},
    {"h[ae]llo", "axd", false},
    {"h[ae]llo", "ace", false},
    {"h[ae]llo", "a*b", false},
    {"h[ae]llo", "axb", false},
    {"h[ae]llo", "a?", false},
    {"h[ae]llo", "ab", false},
    {"h[ae]llo", "]", false},
    {"h[ae]llo", "-", false},
    {"h[ae]llo", "a[", false},
    {"h[ae]llo", "xbyc", false},
    {"h[ae]llo", "hello", true},
    {"h[ae]llo", "hallo", true},
    {"h[ae]llo", "hillo", false},
    {"h[ae]llo", "h[a]llo", false},
    {"h[ae]llo", "x!y", false},
    {"h[ae]llo", "xay", false},
    {"h[ae]llo", "\\", false},
    {"h[ae]llo", "a\\", false},
    {"h\\[a\\]llo", "a", false},
    {"h\\[a\\]llo", "abc", false},
    {"h\\[a\\]llo", "abd", false},
    {"h\\[a\\]llo", "acd", false},
    {"h\\[a\\]llo", "aed", false},
    {"h\\[a\\]llo", "axd", false},
    {"h\\[a\\]llo", "ace", false},
    {"h\\[a\\]llo", "a*b", false},
    {"h\\[a\\]llo", "axb", false},
    {"h\\[a\\]llo", "a?", false},
    {"h\\[a\\]llo", "ab", false},
    {"h\\[a\\]llo", "]", false},
    {"h\\[a\\]llo", "-", false},
    {"h\\[a\\]llo", "a[", false},
    {"h\\[a\\]llo", "xbyc", false},
    {"h\\[a\\]llo", "hello", false},
    {"h\\[a\\]llo", "hallo", false},
    {"h\\[a\\]llo", "hillo", false},
    {"h\\[a\\]llo", "h[a]llo", true},
    {"h\\[a\\]llo", "x!y", false},
    {"h\\[a\\]llo", "xay", false},
    {"h\\[a\\]llo", "\\", false},
    {"h\\[a\\]llo", "a\\", false},
    {"x[!a]y", "a", false},
    {"x[!a]y", "abc", false},
    {"x[!a]y", "abd", false},
    {"x[!a]y", "acd", false},
    {"x[!a]y", "aed", false},
    {"x[!a]y", "axd", false},
    {"x[!a]y", "ace", false},
    {"x[!a]y", "a*b", false},
    {"x[!a]y", "axb", false},
    {"x[!a]y", "a?", false},
    {"x[!a]y", "ab", false},
    {"x[!a]y", "]", false},
    {"x[!a]y", "-", false},
    {"x[!a]y", "a[", false},
    {"x[!a]y", "xbyc", false},
    {"x[!a]y", "hello", false},
    {"x[!a]y", "hallo", false},
    {"x[!a]y", "hillo", false},
    {"x[!a]y", "h[a]llo", false},
    {"x[!a]y", "x!y", true},
    {"x[!a]y", "xay", true},
    {"x[!a]y", "\\", false},
    {"x[!a]y", "a\\", false},
    {"[]]", "a", false},
    {"[]]", "abc", false},
    {"[]]", "abd", false},
    {"[]]", "acd", false},
    {"[]]", "aed", false},
    {"[]]", "axd", false},
    {"[]]", "ace", false},
    {"[]]", "a*b", false},
    {"[]]", "axb", false},
    {"[]]", "a?", false},
    {"[]]", "ab", false},
    {"[]]", "]", false},
    {"[]]", "-", false},
    {"[]]", "a[", false},
    {"[]]", "xbyc", false},
    {"[]]", "hello", false},
    {"[]]", "hallo", false},
    {"[]]", "hillo", false},
    {"[]]", "h[a]llo", false},
    {"[]]", "x!y", false},
    {"[]]", "xay", false},
    {"[]]", "\\", false},
    {"[]]", "a\\", false},
    {"a*?", "a", false},
    {"a*?", "abc", true},
    {"a*?", "abd", true},
    {"a*?", "acd", true},
    {"a*?", "aed", true},
    {"a*?", "axd", true},
    {"a*?", "ace", true},
    {"a*?", "a*b", true},
    {"a*?", "axb", true},
    {"a*?", "a?", true},
    {"a*?", "ab", true},
    {"a*?", "]", false},
    {"a*?", "-", false},
    {"a*?", "a[", true},
    {"a*?", "xbyc", false},
    {"a*?", "hello", false},
    {"a*?", "hallo", false},
    {"a*?", "hillo", false},
    {"a*?", "h[a]llo", false},
    {"a*?", "x!y", false},
    {"a*?", "xay", false},
    {"a*?", "\\", false},
    {"a*?", "a\\", true},
    {"*\\", "a", false},
    {"*\\", "abc", false},
    {"*\\", "abd", false},
    {"*\\", "acd", false},
    {"*\\", "aed", false},
    {"*\\", "axd", false},
    {"*\\", "ace", false},
    {"*\\", "a*b", false},
    {"*\\", "axb", false},
    {"*\\", "a?", false},
    {"*\\", "ab", false},
    {"*\\", "]", false},
    {"*\\", "-", false},
    {"*\\", "a[", false},
    {"*\\", "xbyc", false},
    {"*\\", "hello", false},
    {"*\\", "hallo", false},
    {"*\\", "hillo", false},
    {"*\\", "h[a]llo", false},
    {"*\\", "x!y", false},
    {"*\\", "xay", false},
    {"*\\", "\\", true},
    {"*\\", "a\\", true},
    {"\\", "a", false},
    {"\\", "abc", false},
    {"\\", "abd", false},
    {"\\", "acd", false},
    {"\\", "aed", false},
    {"\\", "axd", false},
    {"\\", "ace", false},
    {"\\", "a*b", false},
    {"\\", "axb", false},
    {"\\", "a?", false},
    {"\\", "ab", false},
    {"\\", "]", false},
    {"\\", "-", false},
    {"\\", "a[", false},
    {"\\", "xbyc", false},
    {"\\", "hello", false},
    {"\\", "hallo", false},
    {"\\", "hillo", false},
    {"\\", "h[a]llo", false},
    {"\\", "x!y", false},
    {"\\", "xay", false},
    {"\\", "\\", true},
    {"\\", "a\\", false},
    {"[\\-]", "a", false},
    {"[\\-]", "abc", false},
    {"[\\-]", "abd", false},
    {"[\\-]", "acd", false},
    {"[\\-]", "aed", false},
    {"[\\-]", "axd", false},
    {"[\\-]", "ace", false},
    {"[\\-]", "a*b", false},
    {"[\\-]", "axb", false},
    {"[\\-]", "a?", false},
    {"[\\-]", "ab", false},
    {"[\\-]", "]", false},
    {"[\\-]", "-", true},
    {"[\\-]", "a[", false},
    {"[\\-]", "xbyc", false},
    {"[\\-]", "hello", false},
    {"[\\-]", "hallo", false},
    {"[\\-]", "hillo", false},
    {"[\\-]", "h[a]llo", false},
    {"[\\-]", "x!y", false},
    {"[\\-]", "xay", false},
    {"[\\-]", "\\", false},
    {"[\\-]", "a\\", false},
};

User user_of(std::string_view rules) {
  User u("u");
  std::string text(rules);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    auto err = u.apply(std::string_view(text).substr(pos, end - pos));
    INFO(text.substr(pos, end - pos));
    REQUIRE_FALSE(err.has_value());
    pos = end + 1;
  }
  return u;
}

// The decision for a request, keys extracted by the command table as the session does.
Denied decide(const User& u, std::vector<std::string_view> args) {
  const CommandInfo* cmd = resolve_command(args);
  REQUIRE(cmd != nullptr);
  std::vector<int> keys;
  std::string error;
  if (!command_keys(*cmd, args, keys, error)) keys.clear();
  return check(u, *cmd, args, keys);
}

std::string err_of(User& u, std::string_view rule) {
  auto e = u.apply(rule);
  REQUIRE(e.has_value());
  return *e;
}

}  // namespace

TEST_CASE("glob_match agrees with Redis's stringmatchlen", "[acl]") {
  for (const GlobCase& c : kGlobCases) {
    INFO("pattern " << c.pattern << " text " << c.text);
    CHECK(glob_match(c.pattern, c.text) == c.match);
  }
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
  // As Redis's stringmatchlen: the loop never starts on an empty string, so even "*" fails.
  CHECK_FALSE(glob_match("*", ""));
  CHECK_FALSE(glob_match("?", ""));
  CHECK(glob_match("HELLO", "hello", true));
  CHECK(glob_match("h[A-Z]llo", "hello", true));
  CHECK_FALSE(glob_match("HELLO", "hello"));
  // Binary-safe: embedded NUL bytes are ordinary characters.
  CHECK(glob_match(std::string_view("a\0*", 3), std::string_view("a\0bc", 4)));
  CHECK_FALSE(glob_match(std::string_view("a\0", 2), std::string_view("a", 1)));
}

TEST_CASE("glob_match stays fast on patterns that would backtrack exponentially", "[acl]") {
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "*a";
  pattern += "b";
  const std::string text(200, 'a');
  CHECK_FALSE(glob_match(pattern, text));
  // Deep nesting is refused rather than recursing without bound (Redis: 1000 levels).
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "?*";
  CHECK_FALSE(glob_match(deep, std::string(3000, 'x')));
}

TEST_CASE("the category table lists every command of the command table", "[acl]") {
  REQUIRE(table_matches_commands());
  const auto cat = [](std::string_view name) { return command_acl(*find_command(name)).categories; };
  CHECK(cat("GET") == (kCatRead | kCatString | kCatFast));
  CHECK(cat("SET") == (kCatWrite | kCatString | kCatSlow));
  CHECK(cat("FLUSHALL") == (kCatKeyspace | kCatWrite | kCatSlow | kCatDangerous));
  CHECK(cat("KEYS") == (kCatKeyspace | kCatRead | kCatSlow | kCatDangerous));
  CHECK(cat("PUBLISH") == (kCatPubSub | kCatFast));
  CHECK(cat("CONFIG") == kCatSlow);
  const CommandInfo* config_set = find_subcommand(*find_command("CONFIG"), "SET");
  CHECK(command_acl(*config_set).categories == (kCatAdmin | kCatSlow | kCatDangerous));
  CHECK(command_acl(*find_command("AUTH")).no_auth);
  CHECK(command_acl(*find_command("HELLO")).no_auth);
  CHECK_FALSE(command_acl(*find_command("GET")).no_auth);
  CHECK(command_acl(*find_command("COPY")).first_key_perm == kPermRead);
  CHECK(command_acl(*find_command("COPY")).other_key_perm == kPermWrite);
  CHECK(command_acl(*find_command("EXISTS")).first_key_perm == 0);
  CHECK(command_acl(*find_command("SET")).variable);
  CHECK_FALSE(command_acl(*find_command("SLOTSMAPPING")).redis);
  CHECK(category_bit("read") == kCatRead);
  CHECK(category_bit("ScRiPtInG") == kCatScripting);
  CHECK(category_bit("all") == 0);
  CHECK(category_bit("nosuch") == 0);
  const auto reads = category_commands(kCatRead);
  CHECK(std::find(reads.begin(), reads.end(), "get") != reads.end());
  CHECK(std::find(reads.begin(), reads.end(), "set") == reads.end());
  const auto admin = category_commands(kCatAdmin);
  CHECK(std::find(admin.begin(), admin.end(), "config|set") != admin.end());
}

TEST_CASE("rules: errors as ACL SETUSER words them", "[acl]") {
  User u("e");
  CHECK(err_of(u, "foo") == "Syntax error");
  CHECK(err_of(u, "") == "Syntax error");
  CHECK(err_of(u, "+@nosuch") == "Unknown command or category name in ACL");
  CHECK(err_of(u, "+nosuch") == "Unknown command or category name in ACL");
  CHECK(err_of(u, "-get|x") == "Unknown command or category name in ACL");
  CHECK(err_of(u, "+config|nosuch") == "Unknown command or category name in ACL");
  CHECK(err_of(u, "+get|") == "Syntax error");
  CHECK(err_of(u, "<nopw") == "The password you are trying to remove from the user does not exist");
  CHECK(err_of(u, "#abc") ==
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
  CHECK(err_of(u, "#" + std::string(64, 'A')).starts_with("The password hash must be"));
  CHECK(err_of(u, "!abc").starts_with("The password hash must be"));
  CHECK(err_of(u, "%X~a") == "Syntax error");
  CHECK(err_of(u, "%~a") == "Syntax error");
  CHECK(err_of(u, "%RR~a") == "Syntax error");
  CHECK(err_of(u, "(~a +get)") == "Selectors are not supported by the proxy");
  CHECK_FALSE(u.apply("allkeys").has_value());
  CHECK(err_of(u, "~x").starts_with("Adding a pattern after the * pattern (or the 'allkeys' flag)"));
  CHECK(err_of(u, "%R~x").starts_with("Adding a pattern after the * pattern (or the 'allkeys' flag)"));
  CHECK_FALSE(u.apply("allchannels").has_value());
  CHECK(err_of(u, "&x").starts_with("Adding a pattern after the * pattern (or the 'allchannels' flag)"));
  bool unknown = false;
  CHECK(u.apply("+nosuch", &unknown).has_value());
  CHECK(unknown);
  CHECK(u.apply("foo", &unknown).has_value());
  CHECK_FALSE(unknown);
  CHECK(setuser_error("foo", "Syntax error") == "ERR Error in ACL SETUSER modifier 'foo': Syntax error");
}

TEST_CASE("describe formats users as ACL LIST does", "[acl]") {
  CHECK(User("alice").describe() == "off resetchannels -@all");
  CHECK(user_of("on nopass ~* &* +@all").describe() == "on nopass ~* &* +@all");
  CHECK(user_of("on nopass allkeys allchannels allcommands").describe() == "on nopass ~* &* +@all");
  // Redis 7.0.15: "user carol on nopass ~* resetchannels +@all"
  CHECK(user_of("on nopass allkeys allcommands -@dangerous +@all").describe() == "on nopass ~* resetchannels +@all");
  // Redis 7.0.15: "user bob on #30c9... ~app:* %R~ro:* %W~wo:* ~both:* &* -@all +@read +config|get +set -get"
  // (Redis orders the single commands by its hash table; the proxy by name).
  CHECK(user_of("on >pw ~app:* %R~ro:* %W~wo:* %RW~both:* +@read -get +set +config|get &ch:* allchannels")
            .describe() == "on #" + codis::sha256_hex("pw") +
                               " ~app:* %R~ro:* %W~wo:* ~both:* &* -@all +@read +config|get -get +set");
  // Redis 7.0.15: "user dave on #a1fc... ~c resetchannels -@all"
  CHECK(user_of("on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 >x <x resetpass >y ~a ~b "
                "resetkeys ~c")
            .describe() == "on #" + codis::sha256_hex("y") + " ~c resetchannels -@all");
  // Redis 7.0.15: "user bob off sanitize-payload resetchannels -@all"
  CHECK(user_of("on >pw ~a:* +@read reset").describe() == "off sanitize-payload resetchannels -@all");
  CHECK(user_of("on nopass ~x* &ch* +get -@all +set +config|get").describe() ==
        "on nopass ~x* resetchannels &ch* -@all +config|get +set");
  CHECK(user_of("-@all +@slow").describe() == "off resetchannels -@all +@slow");
  CHECK(user_of("-@all +config -config|set").describe() == "off resetchannels -@all +config -config|set");
  CHECK(user_of("+select|0 +select|1 +select|0").describe() == "off resetchannels -@all +select|0 +select|1");
  CHECK(user_of("%R~ %r~a").describe() == "off %R~ %R~a resetchannels -@all");
  CHECK(user_of("~a %W~a").describe() == "off ~a resetchannels -@all");
  CHECK(user_of("%R~a %W~a").describe() == "off ~a resetchannels -@all");
  CHECK(user_of("skip-sanitize-payload").describe() == "off skip-sanitize-payload resetchannels -@all");
  CHECK(user_of("+@all -@dangerous").describe() == "off resetchannels +@all -@dangerous");
}

TEST_CASE("passwords: SHA-256 only, nopass, disabled users", "[acl]") {
  User u = user_of("on >secret >other");
  CHECK(u.password_ok("secret"));
  CHECK(u.password_ok("other"));
  CHECK_FALSE(u.password_ok("Secret"));
  CHECK_FALSE(u.password_ok(""));
  for (const std::string& p : u.passwords) CHECK(p.size() == 64);
  CHECK(u.describe().find("secret") == std::string::npos);
  u.apply("<other");
  CHECK_FALSE(u.password_ok("other"));
  u.apply("#" + codis::sha256_hex("hashed"));
  CHECK(u.password_ok("hashed"));
  u.apply("!" + codis::sha256_hex("hashed"));
  CHECK_FALSE(u.password_ok("hashed"));
  u.apply("off");
  CHECK_FALSE(u.password_ok("secret"));
  User n = user_of("on nopass");
  CHECK(n.password_ok("anything"));
  n.apply(">pw");
  CHECK_FALSE(n.nopass);
  CHECK_FALSE(n.password_ok("anything"));
  User none = user_of("on");
  CHECK_FALSE(none.password_ok(""));
}

TEST_CASE("decisions: commands and categories", "[acl]") {
  User reader = user_of("on nopass ~* +@read");
  CHECK(decide(reader, {"GET", "k"}) == Denied::kNone);
  CHECK(decide(reader, {"get", "k"}) == Denied::kNone);
  CHECK(decide(reader, {"SET", "k", "v"}) == Denied::kCommand);
  CHECK(decide(reader, {"MGET", "a", "b"}) == Denied::kNone);
  CHECK(decide(reader, {"FLUSHALL"}) == Denied::kCommand);
  // AUTH and HELLO are no_auth commands: always allowed.
  CHECK(decide(reader, {"AUTH", "x"}) == Denied::kNone);
  CHECK(decide(reader, {"HELLO"}) == Denied::kNone);
  CHECK(decide(reader, {"PING"}) == Denied::kCommand);

  User mixed = user_of("on nopass ~* +@all -set +@read -get");
  CHECK(decide(mixed, {"GET", "k"}) == Denied::kCommand);
  CHECK(decide(mixed, {"SET", "k", "v"}) == Denied::kCommand);
  CHECK(decide(mixed, {"INCR", "k"}) == Denied::kNone);

  User cfg = user_of("on nopass -@all +config|get");
  CHECK(decide(cfg, {"CONFIG", "GET", "maxmemory"}) == Denied::kNone);
  CHECK(decide(cfg, {"config", "set", "maxmemory", "0"}) == Denied::kCommand);
  const CommandInfo* config_set = find_subcommand(*find_command("CONFIG"), "SET");
  CHECK(noperm_error(Denied::kCommand, *config_set) ==
        "NOPERM this user has no permissions to run the 'config|set' command");
  CHECK(noperm_error(Denied::kCommand, *find_command("GET")) ==
        "NOPERM this user has no permissions to run the 'get' command");
  CHECK(noperm_error(Denied::kKey, *find_command("GET")) ==
        "NOPERM this user has no permissions to access one of the keys used as arguments");
  CHECK(noperm_error(Denied::kChannel, *find_command("PUBLISH")) ==
        "NOPERM this user has no permissions to access one of the channels used as arguments");

  // A container's rule covers its subcommands; a category covering the container too (Redis
  // 7.0: CONFIG itself is @slow, so +@slow allows CONFIG SET).
  User slow = user_of("on nopass -@all +@slow");
  CHECK(decide(slow, {"CONFIG", "SET", "maxmemory", "0"}) == Denied::kNone);
  User admin = user_of("on nopass -@all +@admin");
  CHECK(decide(admin, {"CONFIG", "SET", "maxmemory", "0"}) == Denied::kNone);
  CHECK(decide(admin, {"FLUSHALL"}) == Denied::kCommand);
  CHECK(decide(admin, {"KEYS", "*"}) == Denied::kCommand);
  User dangerous = user_of("on nopass ~* -@all +@dangerous");
  CHECK(decide(dangerous, {"FLUSHALL"}) == Denied::kNone);
  CHECK(decide(dangerous, {"KEYS", "*"}) == Denied::kNone);

  User first = user_of("on nopass -@all +select|0");
  CHECK(decide(first, {"SELECT", "0"}) == Denied::kNone);
  CHECK(decide(first, {"SELECT", "1"}) == Denied::kCommand);
  first.apply("+select");
  CHECK(decide(first, {"SELECT", "1"}) == Denied::kNone);
  CHECK(first.first_args.empty());
}

TEST_CASE("decisions: key patterns on every key, split commands included", "[acl]") {
  User app = user_of("on nopass ~app:* +@all");
  CHECK(decide(app, {"GET", "app:1"}) == Denied::kNone);
  CHECK(decide(app, {"GET", "other"}) == Denied::kKey);
  CHECK(decide(app, {"MGET", "app:1", "app:2"}) == Denied::kNone);
  CHECK(decide(app, {"MGET", "app:1", "other:2"}) == Denied::kKey);
  CHECK(decide(app, {"MSET", "app:1", "v", "other:2", "v"}) == Denied::kKey);
  CHECK(decide(app, {"MSET", "app:1", "v", "app:2", "other:2"}) == Denied::kNone);  // values are not keys
  CHECK(decide(app, {"DEL", "app:1", "app:2", "x"}) == Denied::kKey);
  CHECK(decide(app, {"EXISTS", "app:1", "x"}) == Denied::kKey);
  CHECK(decide(app, {"EVAL", "return 1", "2", "app:1", "x"}) == Denied::kKey);
  CHECK(decide(app, {"EVAL", "return 1", "1", "app:1", "x"}) == Denied::kNone);
  CHECK(decide(app, {"ZUNIONSTORE", "app:d", "2", "app:a", "b"}) == Denied::kKey);
  CHECK(decide(app, {"XREAD", "STREAMS", "app:s", "other", "0", "0"}) == Denied::kKey);
  CHECK(decide(app, {"OBJECT", "ENCODING", "other"}) == Denied::kKey);
  // No keys: cluster-wide commands pass the key check (Redis: KEYS takes a pattern, not a key).
  CHECK(decide(app, {"KEYS", "*"}) == Denied::kNone);
  CHECK(decide(app, {"SCAN", "0"}) == Denied::kNone);
  CHECK(decide(app, {"DBSIZE"}) == Denied::kNone);
  // PUBLISH's argument is a channel, not a key (the proxy routes by it all the same).
  CHECK(decide(app, {"PUBLISH", "other", "m"}) == Denied::kChannel);
  // A malformed numkeys: no key is checked, the command reports its own error.
  CHECK(decide(app, {"EVAL", "return 1", "x", "other"}) == Denied::kNone);

  User none = user_of("on nopass +@all");
  CHECK(decide(none, {"GET", "a"}) == Denied::kKey);
  CHECK(decide(none, {"PING"}) == Denied::kNone);
}

TEST_CASE("decisions: %R and %W as Redis's key specs need them", "[acl]") {
  User u = user_of("on nopass %R~r* %W~w* ~k* &ch* +@all");
  CHECK(decide(u, {"GET", "r1"}) == Denied::kNone);
  CHECK(decide(u, {"GET", "w1"}) == Denied::kKey);
  CHECK(decide(u, {"SET", "w1", "v"}) == Denied::kNone);
  CHECK(decide(u, {"SET", "w1", "v", "GET"}) == Denied::kKey);
  CHECK(decide(u, {"SET", "k1", "v", "get"}) == Denied::kNone);
  CHECK(decide(u, {"SET", "r1", "v"}) == Denied::kKey);
  CHECK(decide(u, {"EXISTS", "w1"}) == Denied::kNone);  // EXISTS needs neither
  CHECK(decide(u, {"EXISTS", "r1"}) == Denied::kNone);
  CHECK(decide(u, {"EXISTS", "zz"}) == Denied::kKey);
  CHECK(decide(u, {"MGET", "k1", "x"}) == Denied::kKey);
  CHECK(decide(u, {"BITFIELD", "r1", "GET", "u8", "0"}) == Denied::kNone);
  CHECK(decide(u, {"BITFIELD", "w1", "SET", "u8", "0", "1"}) == Denied::kKey);  // RW
  CHECK(decide(u, {"BITFIELD", "k1", "SET", "u8", "0", "1"}) == Denied::kNone);
  CHECK(decide(u, {"COPY", "r1", "w1"}) == Denied::kNone);
  CHECK(decide(u, {"COPY", "w1", "r1"}) == Denied::kKey);
  CHECK(decide(u, {"LMOVE", "w1", "r1", "LEFT", "RIGHT"}) == Denied::kKey);
  CHECK(decide(u, {"LMOVE", "k1", "w1", "LEFT", "RIGHT"}) == Denied::kNone);
  CHECK(decide(u, {"SINTERSTORE", "w1", "r1", "r2"}) == Denied::kNone);
  CHECK(decide(u, {"SINTERSTORE", "r1", "w1"}) == Denied::kKey);
  CHECK(decide(u, {"DEL", "w1"}) == Denied::kNone);
  CHECK(decide(u, {"DEL", "r1"}) == Denied::kKey);
}

TEST_CASE("decisions: channels", "[acl]") {
  User u = user_of("on nopass ~* &ch* +@all");
  CHECK(decide(u, {"PUBLISH", "ch1", "m"}) == Denied::kNone);
  CHECK(decide(u, {"PUBLISH", "x", "m"}) == Denied::kChannel);
  CHECK(decide(u, {"SUBSCRIBE", "ch1", "ch2"}) == Denied::kNone);
  CHECK(decide(u, {"SUBSCRIBE", "ch1", "x"}) == Denied::kChannel);
  CHECK(decide(u, {"PSUBSCRIBE", "ch*"}) == Denied::kNone);   // the same pattern, literally
  CHECK(decide(u, {"PSUBSCRIBE", "ch1*"}) == Denied::kChannel);
  CHECK(decide(u, {"UNSUBSCRIBE", "x"}) == Denied::kNone);
  CHECK(decide(u, {"SPUBLISH", "x", "m"}) == Denied::kChannel);
  User none = user_of("on nopass ~* +@all resetchannels");
  CHECK(decide(none, {"PUBLISH", "ch1", "m"}) == Denied::kChannel);
  CHECK(decide(user_of("on nopass ~* +@all &*"), {"PUBLISH", "x", "m"}) == Denied::kNone);
}

TEST_CASE("users files: Redis's syntax and its ACL LOAD errors", "[acl]") {
  std::string error;
  auto users = Users::parse(
      "user default on nopass ~* &* +@all\n"
      "# a comment (an extension: Redis has none)\n"
      "\n"
      "  user bob on >pw ~a:* +@read  \r\n"
      "user \"carol\" on 'nopass' -@all +get\n",
      "users.acl", "on nopass ~* &* +@all", error);
  INFO(error);
  REQUIRE(users != nullptr);
  CHECK(users->all().size() == 3);
  REQUIRE(users->find("bob") != nullptr);
  CHECK(users->find("bob")->password_ok("pw"));
  REQUIRE(users->find("carol") != nullptr);
  CHECK(users->find("carol")->nopass);
  CHECK(users->find("nobody") == nullptr);
  CHECK(users->default_user().describe() == "on nopass ~* &* +@all");

  // The report Redis 7.0.15 gives for the same file (ACL LOAD), line by line.
  error.clear();
  auto bad = Users::parse(
      "user default on nopass ~* &* +@all\n"
      "user bob on >pw ~a:* +@read\n"
      "user carol on foo +get\n"
      "\n"
      "user dave on +@nosuch\n"
      "user bob on\n"
      "notuser x\n"
      "user\n",
      "/tmp/acltest/good.acl", "on nopass ~* &* +@all", error);
  CHECK(bad == nullptr);
  CHECK(error ==
        "/tmp/acltest/good.acl:3: Syntax error. /tmp/acltest/good.acl:5: Error in applying operation '+@nosuch': "
        "Unknown command or category name in ACL. WARNING: Duplicate user 'bob' found on line 6. "
        "/tmp/acltest/good.acl:7 should start with user keyword followed by the username. "
        "/tmp/acltest/good.acl:8 should start with user keyword followed by the username. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed");

  // Only the first non-"unknown" error of a line is reported, and never the rule: it could be
  // a password.
  error.clear();
  CHECK(Users::parse("user x on #nothex >secret <nosuchpw\n", "f", "", error) == nullptr);
  CHECK(error.find("secret") == std::string::npos);
  CHECK(error.find("nothex") == std::string::npos);
  CHECK(error.starts_with("f:1: The password hash must be exactly 64 characters"));

  error.clear();
  CHECK(Users::parse("user x on \"unbalanced\n", "f", "", error) == nullptr);
  CHECK(error.starts_with("f:1: unbalanced quotes in acl line. "));
}

TEST_CASE("users files: the default user", "[acl]") {
  std::string error;
  auto users = Users::parse("user app on >pw ~app:* +@all\n", "f",
                            Users::default_rules_for_password("codis-secret"), error);
  REQUIRE(users != nullptr);
  const User& d = users->default_user();
  CHECK(d.enabled);
  CHECK(d.password_ok("codis-secret"));
  CHECK_FALSE(d.password_ok("other"));
  CHECK(d.describe() == "on #" + codis::sha256_hex("codis-secret") + " ~* &* +@all");
  CHECK(Users::default_rules_for_password("") == "on nopass ~* &* +@all");
  auto only = Users::only_default("on nopass ~* &* +@all");
  CHECK(only->all().size() == 1);
  CHECK(only->default_user().password_ok("x"));
  // The file's own default wins over session_auth's.
  auto own = Users::parse("user default off\n", "f", Users::default_rules_for_password("pw"), error);
  REQUIRE(own != nullptr);
  CHECK_FALSE(own->default_user().enabled);
  auto empty = Users::parse("", "f", "on nopass ~* &* +@all", error);
  REQUIRE(empty != nullptr);
  CHECK(empty->all().size() == 1);
}
