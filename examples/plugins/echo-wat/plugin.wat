;; echo-wat: the smallest useful mockforge plugin, written by hand in WebAssembly text.
;;
;; generate_response answers 200 with the whole plugin input as the JSON body, so the caller
;; sees request.method, request.path, route and config echoed back.
;; filter_request allows a request only when it carries an `x-api-key` header.
;;
;; ABI (docs/PLUGINS.md): exports memory, alloc(len) -> ptr, and entry points
;; (ptr, len) -> i64 returning (out_ptr << 32) | out_len of UTF-8 JSON.
(module
  (memory (export "memory") 1)
  ;; bump allocator: every call runs in a fresh instance, so nothing is ever freed
  (global $heap (mut i32) (i32.const 4096))

  (data (i32.const 0) "{\"status\":200,\"headers\":{\"content-type\":\"application/json\",\"x-plugin\":\"echo-wat\"},\"body\":")
  (data (i32.const 512) "{\"allow\":true}")
  (data (i32.const 640) "{\"allow\":false,\"status\":401,\"headers\":{\"www-authenticate\":\"ApiKey\"},\"body\":{\"error\":\"missing x-api-key header\"}}")
  (data (i32.const 896) "\"x-api-key\":\"")

  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
      (br_if $ok (i32.ne (i32.const -1)
        (memory.grow (i32.shr_u
          (i32.add (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16))) (i32.const 65535))
          (i32.const 16)))))
      unreachable)
    (local.get $p))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))

  ;; {"status":200,"headers":{...},"body":<input>}
  (func (export "generate_response") (param $p i32) (param $n i32) (result i64)
    (local $out i32) (local $len i32)
    (local.set $len (i32.add (local.get $n) (i32.const 90)))
    (local.set $out (call $alloc (local.get $len)))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 89))
    (memory.copy (i32.add (local.get $out) (i32.const 89)) (local.get $p) (local.get $n))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 89))) (i32.const 125))
    (call $pack (local.get $out) (local.get $len)))

  ;; 1 when the 13 bytes at $at equal the needle at 896
  (func $needle_at (param $at i32) (result i32)
    (local $i i32)
    (block $no
      (loop $next
        (br_if $no (i32.ne (i32.load8_u (i32.add (local.get $at) (local.get $i)))
                           (i32.load8_u (i32.add (i32.const 896) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 13))))
      (return (i32.const 1)))
    (i32.const 0))

  (func (export "filter_request") (param $p i32) (param $n i32) (result i64)
    (local $i i32) (local $end i32)
    (local.set $end (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 13)))
    (local.set $i (local.get $p))
    (block $done
      (loop $scan
        (br_if $done (i32.gt_s (local.get $i) (local.get $end)))
        (if (call $needle_at (local.get $i))
          (then (return (call $pack (i32.const 512) (i32.const 14)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (call $pack (i32.const 640) (i32.const 112)))
)
