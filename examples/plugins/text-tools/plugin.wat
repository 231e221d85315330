;; text-tools: template functions for mockforge, written by hand in WebAssembly text.
;;
;;   {{plugin.text-tools.upper request.query.name}}  ->  the first argument in upper case
;;   {{plugin.text-tools.lower "Some Text"}}         ->  "some text"
;;
;; Input (docs/PLUGINS.md): {"name":"upper","args":["..."],"config":{...}}, keys in that order.
;; Output: {"value":"..."}. Only ASCII letters change; a character after a backslash (a JSON
;; escape such as \n or \u00e9) is copied unchanged, so the output stays valid JSON.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  (data (i32.const 0) "\"args\":[\"")       ;; 9 bytes
  (data (i32.const 16) "{\"value\":\"")     ;; 10 bytes
  (data (i32.const 32) "{\"value\":\"\"}")  ;; 12 bytes
  (data (i32.const 48) "{\"name\":\"upper\"") ;; 15 bytes

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

  ;; 1 when $len bytes at $a equal those at $b
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $i i32)
    (block $no
      (loop $next
        (br_if $no (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func (export "template_function") (param $p i32) (param $n i32) (result i64)
    (local $i i32) (local $end i32) (local $out i32) (local $o i32) (local $c i32)
    (local $lo i32) (local $delta i32)
    ;; upper: change a..z by -32; anything else (lower): change A..Z by +32
    (if (i32.and (i32.ge_u (local.get $n) (i32.const 15)) (call $eq (local.get $p) (i32.const 48) (i32.const 15)))
      (then (local.set $lo (i32.const 97)) (local.set $delta (i32.const -32)))
      (else (local.set $lo (i32.const 65)) (local.set $delta (i32.const 32))))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    ;; find "args":[" ; without a string first argument the value is ""
    (local.set $i (local.get $p))
    (block $found
      (loop $scan
        (if (i32.gt_u (i32.add (local.get $i) (i32.const 9)) (local.get $end))
          (then (return (call $pack (i32.const 32) (i32.const 12)))))
        (br_if $found (call $eq (local.get $i) (i32.const 0) (i32.const 9)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (local.set $i (i32.add (local.get $i) (i32.const 9)))
    ;; the output is at most the input plus the 12-byte frame
    (local.set $out (call $alloc (i32.add (local.get $n) (i32.const 12))))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 10))
    (local.set $o (i32.add (local.get $out) (i32.const 10)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (br_if $done (i32.eq (local.get $c) (i32.const 34)))        ;; closing quote
        (if (i32.eq (local.get $c) (i32.const 92))                  ;; backslash: copy it and the next byte
          (then
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $i))))
          (else
            (if (i32.lt_u (i32.sub (local.get $c) (local.get $lo)) (i32.const 26))
              (then (local.set $c (i32.add (local.get $c) (local.get $delta)))))))
        (i32.store8 (local.get $o) (local.get $c))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (i32.store8 (local.get $o) (i32.const 34))
    (i32.store8 (i32.add (local.get $o) (i32.const 1)) (i32.const 125))
    (call $pack (local.get $out) (i32.sub (i32.add (local.get $o) (i32.const 2)) (local.get $out))))
)
