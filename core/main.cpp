#include "app/server.hpp"

int main(int argc, char** argv) { return trellis::core::run_server(argc, argv); }
