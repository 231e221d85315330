;; Test plugin: returns 2 MiB (over the 1 MiB output limit) of zero bytes.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "generate_response") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 33)))
    (i64.const 0x200000)))
