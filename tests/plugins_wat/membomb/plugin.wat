;; Test plugin: grows memory one page at a time until the host refuses, then writes past the end.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "generate_response") (param i32 i32) (result i64)
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    (i32.store (i32.shl (memory.size) (i32.const 16)) (i32.const 1))
    (i64.const 0)))
