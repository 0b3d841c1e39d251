// Package web is the HTTP side of garage-gate, served inside the SOCKS5 tunnel on
// the gate's virtual host. It has a page with each device's state and a button
// per device, a token login for phones that reach the gate without SOCKS5
// credentials, and a JSON API for shortcuts and scripts.
//
// Who a request comes from:
//   - the page and its forms: the SOCKS5 account of the connection, else the session
//     cookie that a login with the phone's token set;
//   - the API: the phone's bearer token, which must belong to the SOCKS5 account
//     when the connection has one.
//
// Every form carries a CSRF token bound to the phone, and cross-origin POSTs are
// rejected from their Sec-Fetch-Site and Origin headers. Every response forbids
// caching, framing, referrers and any resource from elsewhere.
package web
