// The one translation unit that compiles Boost.Asio (with its OpenSSL layer)
// and Boost.Beast (BOOST_ASIO_SEPARATE_COMPILATION /
// BOOST_BEAST_SEPARATE_COMPILATION), so every other file only parses their
// declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
