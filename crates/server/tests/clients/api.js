// The B2C docs' Node web API ("Secure a Node.js web API"): Express, passport and
// passport-azure-ad's BearerStrategy configured for B2C, with the docs' optional policy check.
// Trustframe's metadata is fetched over HTTPS; Node trusts the dev certificate through
// NODE_EXTRA_CA_CERTS.
//
// Usage: node api.js PORT IDENTITY_METADATA_URL API_CLIENT_ID POLICY
"use strict";
const express = require("express");
const passport = require("passport");
const { BearerStrategy } = require("passport-azure-ad");

const [port, identityMetadata, clientID, policyName] = process.argv.slice(2);

const bearerStrategy = new BearerStrategy(
  {
    identityMetadata,
    clientID,
    audience: clientID,
    isB2C: true,
    policyName,
    validateIssuer: true,
    passReqToCallback: false,
    loggingLevel: "warn",
  },
  (token, done) => done(null, {}, token),
);

const app = express();
app.use(passport.initialize());
passport.use(bearerStrategy);

app.get("/api/values", passport.authenticate("oauth-bearer", { session: false }), (req, res) => {
  const claims = req.authInfo;
  if (claims.tfp !== policyName) {
    return res.status(403).json({ error: "insufficient permissions" });
  }
  return res.status(200).json(["Value1", "Value2"]);
});

app.get("/healthz", (req, res) => res.status(200).send("ok"));

app.listen(Number(port), "127.0.0.1", () => console.log(`listening on 127.0.0.1:${port}`));
