// Calls DescribeBillDownloadUrl through the official Tencent Cloud Node SDK
// until the file is ready, printing each response as one JSON line. The Go
// end-to-end tests run it; settings come from the environment:
//   PB_ENDPOINT   host[:port] the SDK is pointed at
//   PB_CONNECT    optional 127.0.0.1:PORT to dial instead of resolving the
//                 endpoint's host (for intlpartnersmgt.localhost)
//   PB_SIGN       "v1" (the SDK's default profile) or "tc3"
//   PB_ID, PB_KEY the key pair; PB_MONTH, PB_FILETYPE the request
const http = require("http");
const net = require("net");
const tc = require("tencentcloud-sdk-nodejs-intl-en");
const { Credential, ClientProfile, HttpProfile, CommonClient } = tc.common;

const env = process.env;
if (env.PB_CONNECT) {
  const [host, port] = env.PB_CONNECT.split(":");
  http.globalAgent.createConnection = (opts, cb) => net.createConnection({ host, port: Number(port) }, cb);
}

const hp = new HttpProfile();
hp.endpoint = env.PB_ENDPOINT;
hp.protocol = "http://";
const cp = new ClientProfile();
cp.httpProfile = hp;
if (env.PB_SIGN === "tc3") {
  cp.signMethod = "TC3-HMAC-SHA256";
} else if (env.PB_SIGN !== "v1") {
  throw new Error("PB_SIGN must be v1 or tc3");
}
const client = new CommonClient(hp.endpoint, "2022-09-28", new Credential(env.PB_ID, env.PB_KEY), "", cp);

function call() {
  return new Promise((resolve, reject) =>
    client.request("DescribeBillDownloadUrl", { Month: env.PB_MONTH, FileType: env.PB_FILETYPE }, (err, resp) =>
      err ? reject(err) : resolve(resp)));
}

(async () => {
  const deadline = Date.now() + 30000;
  for (;;) {
    let resp;
    try {
      resp = await call();
    } catch (err) {
      console.log(JSON.stringify({ error: String(err && (err.code || err.message) || err), requestId: err && err.requestId }));
      process.exit(0);
    }
    console.log(JSON.stringify(resp));
    if (resp.Ready === 1 || Date.now() > deadline) {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
})();
