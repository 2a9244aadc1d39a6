//! Realistic messages, shared by the corpus and the benchmarks (no imports: the benches
//! include this file by path).

/// A browser GET with 15 header fields and cookies (~900 bytes).
pub const BROWSER_GET: &[u8] = b"GET /catalog/shoes/running?color=blue&size=42&sort=price_asc&page=2 HTTP/1.1\r\n\
Host: www.example-shop.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example-shop.com/catalog/shoes?color=blue\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-User: ?1\r\n\
Cache-Control: max-age=0\r\n\
If-None-Match: \"5f2a-18c9b1e7d3a\"\r\n\
Cookie: session_id=7f3a9c2e4b1d8f6a0e5c3b7d9f1a2c4e; cart=eyJpdGVtcyI6WzEyMzQsNTY3OF19; _ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; consent=analytics%3Dtrue%26marketing%3Dfalse; theme=dark\r\n\
\r\n";

/// An API POST with a JSON body.
pub const API_POST: &[u8] = b"POST /api/v2/orders HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: example-sdk/3.4.1 (python 3.12)\r\n\
Accept: application/json\r\n\
Content-Type: application/json\r\n\
Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJl\r\n\
X-Request-Id: 3b9f2c1e-8a7d-4e6f-9c0b-1a2d3e4f5a6b\r\n\
X-Forwarded-For: 203.0.113.7, 198.51.100.23\r\n\
Content-Length: 150\r\n\
\r\n\
{\"customer_id\":48213,\"items\":[{\"sku\":\"SHOE-RUN-42-BLU\",\"qty\":1,\"price\":89.90},{\"sku\":\"SOCK-3PK\",\"qty\":2,\"price\":9.99}],\"currency\":\"EUR\",\"coupon\":null}";

/// A chunked response with three chunks and a trailer.
pub const CHUNKED_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Mon, 27 May 2024 10:00:00 GMT\r\n\
Server: nginx/1.25.4\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Transfer-Encoding: chunked\r\n\
Connection: keep-alive\r\n\
Cache-Control: private, max-age=0\r\n\
Vary: Accept-Encoding\r\n\
Set-Cookie: session_id=7f3a9c2e4b1d8f6a; Path=/; HttpOnly; Secure; SameSite=Lax\r\n\
ETag: W/\"a1b2c3d4\"\r\n\
\r\n\
62\r\n<!DOCTYPE html><html><head><title>Running shoes</title></head><body><h1>Running shoes</h1><ul>    \r\n\
7c\r\n<li><a href=\"/p/1\">Road runner 2</a></li><li><a href=\"/p/2\">Trail blazer</a></li><li><a href=\"/p/3\">Marathon pro</a></li>   \r\n\
19\r\n</ul></body></html>\n\n\n\n\n\n\r\n\
0\r\n\
Server-Timing: db;dur=53\r\n\
\r\n";

/// The smallest useful request.
pub const TINY_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
