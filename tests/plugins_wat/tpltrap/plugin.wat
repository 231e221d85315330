;; Test plugin: a template function that traps.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "template_function") (param i32 i32) (result i64)
    unreachable))
