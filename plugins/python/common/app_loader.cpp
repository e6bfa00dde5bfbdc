#include "app_loader.hpp"

#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <string>

#include "traceback.hpp"

namespace trellis::python {
namespace {

bool prepend_sys_path(PyObject* entry) {
  PyObject* path = PySys_GetObject("path");  // borrowed
  if (!path || !PyList_Check(path)) return true;
  int present = PySequence_Contains(path, entry);
  if (present != 0) return present > 0;
  return PyList_Insert(path, 0, entry) == 0;
}

// The file is not run as __main__: an `if __name__ == "__main__": app.run()`
// at its end must not start a development server. Like uWSGI, it gets a
// unique module name derived from its path and a normal module life
// (sys.modules entry, __file__, cached bytecode).
PyObject* exec_file(const std::string& file) {
  char resolved[PATH_MAX];
  std::string path = ::realpath(file.c_str(), resolved) ? std::string(resolved) : file;
  std::string name = "trellis_file_";
  for (char c : path) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');

  // Its directory first on sys.path, as `python3 app.py` would, so the
  // application can import its sibling modules.
  auto slash = path.rfind('/');
  Ref dir(PyUnicode_DecodeFSDefault(slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1).c_str()));
  if (!dir || !prepend_sys_path(dir.get())) return nullptr;

  Ref machinery(PyImport_ImportModule("importlib.machinery"));
  Ref util(machinery ? PyImport_ImportModule("importlib.util") : nullptr);
  if (!util) return nullptr;
  Ref py_name(PyUnicode_FromString(name.c_str()));
  Ref py_path(py_name ? PyUnicode_DecodeFSDefault(path.c_str()) : nullptr);
  if (!py_path) return nullptr;
  // An explicit SourceFileLoader: the file need not end in ".py" (app.wsgi).
  Ref loader(PyObject_CallMethod(machinery.get(), "SourceFileLoader", "OO", py_name.get(), py_path.get()));
  if (!loader) return nullptr;
  // spec_from_loader asks the loader for the file name: __file__ and
  // __cached__ come out right.
  Ref spec(PyObject_CallMethod(util.get(), "spec_from_loader", "OO", py_name.get(), loader.get()));
  if (!spec) return nullptr;
  Ref module(PyObject_CallMethod(util.get(), "module_from_spec", "O", spec.get()));
  if (!module) return nullptr;
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyDict_SetItem(modules, py_name.get(), module.get()) != 0) return nullptr;
  Ref done(PyObject_CallMethod(loader.get(), "exec_module", "O", module.get()));
  if (!done) {
    // Forget the half-run module, as a failed import does, keeping the error.
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyDict_DelItem(modules, py_name.get()) != 0) PyErr_Clear();
    PyErr_Restore(type, value, tb);
    return nullptr;
  }
  return module.release();
}

PyObject* import_module(const std::string& module) {
  // The working directory (after --chdir) is importable, as in uWSGI.
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd)) {
    Ref dir(PyUnicode_DecodeFSDefault(cwd));
    if (!dir || !prepend_sys_path(dir.get())) return nullptr;
  }
  return PyImport_ImportModule(module.c_str());
}

// "app" or "factory.app": attribute lookups from the module.
PyObject* lookup(PyObject* module, const std::string& dotted) {
  Ref obj(Py_NewRef(module));
  std::size_t start = 0;
  while (start <= dotted.size()) {
    auto dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    obj = Ref(PyObject_GetAttrString(obj.get(), part.c_str()));
    if (!obj) return nullptr;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return obj.release();
}

}  // namespace

PyObject* load_app(const AppSettings& s, sdk::Host& host) {
  const bool from_file = !s.file.empty();
  const std::string& source = from_file ? s.file : s.module;
  const std::string who = s.plugin + ": ";
  if (source.empty()) {
    host.log(sdk::LogLevel::error, who + "no application configured");
    return nullptr;
  }
  Ref module(from_file ? exec_file(s.file) : import_module(s.module));
  if (!module) {
    log_exception(host, who + "cannot load " + (from_file ? s.file_option + " " : std::string("module ")) + source);
    return nullptr;
  }
  // --callable (or MOD:NAME), else the first default name the module has.
  std::string callable = s.callable;
  if (callable.empty()) {
    for (const auto& name : s.default_callables) {
      int has = PyObject_HasAttrString(module.get(), name.c_str());
      if (has > 0) {
        callable = name;
        break;
      }
    }
    if (callable.empty()) {
      std::string names;
      for (const auto& name : s.default_callables) names += (names.empty() ? "'" : " or '") + name + "'";
      host.log(sdk::LogLevel::error, who + source + " has no callable " + names + " (name it with --callable)");
      return nullptr;
    }
  }
  Ref app(lookup(module.get(), callable));
  if (!app) {
    log_exception(host, who + source + " has no callable '" + callable + "'");
    return nullptr;
  }
  if (!PyCallable_Check(app.get())) {
    host.log(sdk::LogLevel::error,
             who + source + ":" + callable + " is not callable (" + Py_TYPE(app.get())->tp_name + ")");
    return nullptr;
  }
  host.log(sdk::LogLevel::info, who + "loaded " + source + ":" + callable);
  return app.release();
}

}  // namespace trellis::python
