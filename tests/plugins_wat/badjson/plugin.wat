;; Test plugin: returns "not json {" as its output.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (data (i32.const 0) "not json {")
  (func (export "generate_response") (param i32 i32) (result i64) (i64.const 10)))
