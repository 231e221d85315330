;; Test plugin: answers with a header value holding CR LF and a forged Set-Cookie (response
;; splitting); the host must refuse the headers and count the call as failed.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 4096))
  (data (i32.const 0)
    "{\"status\":200,\"headers\":{\"x-a\":\"1\\r\\nSet-Cookie: evil=1\\r\\n\\r\\nHTTP/1.1 200 OK\"},\"body_text\":\"split\"}")
  (func (export "generate_response") (param i32 i32) (result i64)
    (i64.const 101)))
