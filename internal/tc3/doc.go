// Package tc3 speaks the Tencent Cloud API 3.0 wire protocol on the server
// side, so that the official SDKs can call partnerbill unchanged.
//
// It authenticates requests signed with TC3-HMAC-SHA256 (the Go SDK's
// default) and with signature v1, HmacSHA1 or HmacSHA256 (the Node SDK's
// default), decodes business parameters from a JSON body, a form or a query,
// and writes the {"Response":{…}} envelope with Tencent's error codes. It
// knows nothing about accounts or storage: the caller supplies a function
// that turns a SecretId into its SecretKey.
//
// The gateway's flow is: ContentKind (refuse an unsupported protocol and pick
// the size limit), read the body, Verifier.Verify, check Version and Action,
// Request.Decode into the action's parameter struct, then WriteSuccess or
// WriteError. SignTC3 and SignV1Form sign requests for tests with the same
// code the verifier uses.
package tc3
