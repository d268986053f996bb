// The browser side of tests/handlers/test_passkeys_browser.py: plain WebAuthn calls with the
// options Gatehouse's routes answer, the browser's own JSON (de)serialisation, nothing of ours.
"use strict";

const API = "/api/v1/auth";

async function call(path, body, token) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(API + path, {method: "POST", headers, body: JSON.stringify(body),
                                        credentials: "same-origin"});
  return {status: resp.status, body: await resp.json()};
}

// Register an account, then a passkey for it: what a sign-up page with "add a passkey" does.
window.registerPasskey = async function (person) {
  const signedUp = await call("/register", person);
  if (signedUp.status !== 201) return signedUp;
  const token = signedUp.body.data.accessToken;
  const options = await call("/mfa/passkeys/register/options", {}, token);
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(
    options.body.data.publicKey);
  const credential = await navigator.credentials.create({publicKey});
  return await call("/mfa/passkeys/register/verify",
                    {credential: credential.toJSON(), name: "Chromium virtual authenticator"},
                    token);
};

// Sign in with no email at all: the authenticator offers the passkey it holds for this site.
window.signInPasswordless = async function () {
  const options = await call("/passkeys/options", {});
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
    options.body.data.publicKey);
  const credential = await navigator.credentials.get({publicKey});
  return await call("/passkeys/verify", {credential: credential.toJSON()});
};

// The refresh cookie the sign-in set (httpOnly: only the browser holds it) renews the session.
window.refreshSession = async function () {
  return await call("/refresh-token", {});
};

// For the test driver: run one step and always answer (an exception becomes {error}).
window.runStep = function (name, argument, done) {
  window[name](argument).then(done, (e) => done({error: e.name + ": " + e.message}));
};
