// Package broker renders the files that configure the mosquitto broker of the
// hub: mosquitto.conf, the password file and the ACL file. It returns their
// contents as bytes and never writes files or prints. The caller writes them
// with the modes [PasswordFileMode] and [ACLFileMode].
//
// Passwords are hashed here in mosquitto's own "$7$" format, PBKDF2-SHA512
// with a random salt, because no maintained Go library writes that format. The
// output matches what mosquitto_passwd of mosquitto 2.0.11 (Debian 12) writes:
// 101 iterations, a 12-byte salt and a 64-byte key. That broker rejects a
// hash whose salt has any other length.
//
// Account and device names must match [ValidateName], because they appear in
// the password file, in ACL "user" lines and in topic levels, where characters
// such as ':', '+', '#' or '/' would change the meaning of the file.
package broker
