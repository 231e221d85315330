"""WebAssembly plugins: response generators, template functions and request filters run in a
wasmtime sandbox (docs/PLUGINS.md).

Import from the owning module: ``mockforge.plugins.manager.PluginManager``,
``mockforge.plugins.manifest.load_manifest``, ``mockforge.plugins.cli.plugin``. Nothing here
imports wasmtime; ``plugins/runtime.py`` does so only when the first plugin loads.
"""
