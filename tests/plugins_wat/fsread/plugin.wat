;; Test plugin: reads the file named between the first two '@' of its input (the request body
;; "@secret.txt@" shows up verbatim in the input JSON), relative to the first pre-opened directory
;; (fd 3), and answers {"status":200,"body_text":"<content>"} or {... "body_text":"errno NN"}.
;; Without an fs_read grant there is no fd 3, so the answer is "errno 08" (EBADF).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{\"status\":200,\"body_text\":\"")   ;; 27 bytes
  (data (i32.const 64) "\"}")                                  ;; 2 bytes
  (data (i32.const 80) "errno ")                               ;; 6 bytes
  (func (export "alloc") (param i32) (result i32) (i32.const 65536))
  ;; index of the first '@' in [from, end), or end
  (func $find (param $from i32) (param $end i32) (result i32)
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $from) (local.get $end)))
        (br_if $done (i32.eq (i32.load8_u (local.get $from)) (i32.const 64)))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $scan)))
    (local.get $from))
  (func (export "generate_response") (param $p i32) (param $n i32) (result i64)
    (local $end i32) (local $start i32) (local $stop i32) (local $err i32) (local $out i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $start (i32.add (call $find (local.get $p) (local.get $end)) (i32.const 1)))
    (local.set $stop (call $find (local.get $start) (local.get $end)))
    (memory.copy (i32.const 4096) (i32.const 0) (i32.const 27))
    (local.set $out (i32.const 4123))
    (local.set $err (i32.const 28))  ;; EINVAL when the input has no @path@
    (if (i32.lt_u (local.get $stop) (local.get $end))
      (then
        ;; path_open(dirfd 3, follow symlinks, path, oflags 0, rights fd_read, 0, fdflags 0, &fd at 100)
        (local.set $err (call $path_open (i32.const 3) (i32.const 1) (local.get $start)
          (i32.sub (local.get $stop) (local.get $start)) (i32.const 0) (i64.const 2) (i64.const 0)
          (i32.const 0) (i32.const 100)))
        (if (i32.eqz (local.get $err))
          (then
            (i32.store (i32.const 120) (local.get $out))      ;; iovec {out, 1024}
            (i32.store (i32.const 124) (i32.const 1024))
            (local.set $err (call $fd_read (i32.load (i32.const 100)) (i32.const 120) (i32.const 1)
              (i32.const 116)))
            (if (i32.eqz (local.get $err))
              (then (local.set $out (i32.add (local.get $out) (i32.load (i32.const 116))))))))))
    (if (local.get $err)
      (then
        (memory.copy (local.get $out) (i32.const 80) (i32.const 6))
        (i32.store8 (i32.add (local.get $out) (i32.const 6))
          (i32.add (i32.const 48) (i32.div_u (local.get $err) (i32.const 10))))
        (i32.store8 (i32.add (local.get $out) (i32.const 7))
          (i32.add (i32.const 48) (i32.rem_u (local.get $err) (i32.const 10))))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))))
    (memory.copy (local.get $out) (i32.const 64) (i32.const 2))
    (local.set $out (i32.add (local.get $out) (i32.const 2)))
    (i64.or (i64.shl (i64.const 4096) (i64.const 32))
      (i64.extend_i32_u (i32.sub (local.get $out) (i32.const 4096))))))
