// A shared object that is not a trellis plugin: it exports no entry.
extern "C" __attribute__((visibility("default"))) int not_a_trellis_plugin() { return 42; }
