;; Test plugin: answers {"status":200,"body_text":"K=V;K=V;"} with every environment variable the
;; host passed to it (WASI environ_get; each NUL terminator shown as ';').
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{\"status\":200,\"body_text\":\"")   ;; 27 bytes
  (data (i32.const 64) "\"}")                                  ;; 2 bytes
  (func (export "alloc") (param i32) (result i32) (i32.const 65536))
  (func (export "generate_response") (param i32 i32) (result i64)
    (local $size i32) (local $i i32) (local $out i32)
    (memory.copy (i32.const 8192) (i32.const 0) (i32.const 27))
    (local.set $out (i32.const 8219))
    (if (i32.eqz (call $sizes (i32.const 128) (i32.const 132)))
      (then
        (local.set $size (i32.load (i32.const 132)))
        ;; pointers at 1024 (up to 1792 variables), strings after the prefix (up to 48 KiB)
        (if (i32.and (i32.le_u (i32.load (i32.const 128)) (i32.const 1792))
                     (i32.le_u (local.get $size) (i32.const 49152)))
          (then
            (if (i32.eqz (call $environ (i32.const 1024) (local.get $out)))
              (then
                (local.set $i (i32.const 0))
                (block $done
                  (loop $each
                    (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
                    (if (i32.eqz (i32.load8_u (i32.add (local.get $out) (local.get $i))))
                      (then (i32.store8 (i32.add (local.get $out) (local.get $i)) (i32.const 59))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $each)))
                (local.set $out (i32.add (local.get $out) (local.get $size)))))))))
    (memory.copy (local.get $out) (i32.const 64) (i32.const 2))
    (i64.or (i64.shl (i64.const 8192) (i64.const 32))
      (i64.extend_i32_u (i32.sub (i32.add (local.get $out) (i32.const 2)) (i32.const 8192))))))
