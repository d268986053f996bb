// A third-party verifier: the README's Node example, driven line by line.
// Usage: node verify.mjs JWKS_URL ISSUER AUDIENCE ALGORITHM CACHE_MS
// Each token read from stdin answers one JSON line: {"ok":true,"kid":..,"sub":..} or
// {"ok":false,"code":..}. The key set stays cached between tokens, as in a real service.
import { createInterface } from "node:readline";
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer, audience, algorithm, cacheMs] = process.argv.slice(2);
// cacheMaxAge: how long a fetched set is trusted (match Gatehouse's jwt.jwks_max_age);
// an unknown kid refetches the set at once (cooldownDuration bounds how often).
const jwks = createRemoteJWKSet(new URL(jwksUrl), {
  cacheMaxAge: Number(cacheMs),
  cooldownDuration: 0,
});

const lines = createInterface({ input: process.stdin });
for await (const token of lines) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: [algorithm],
    });
    console.log(JSON.stringify({ ok: true, kid: protectedHeader.kid, sub: payload.sub }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, code: error.code ?? error.name }));
  }
}
