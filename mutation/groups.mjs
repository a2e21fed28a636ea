// Mutation testing of the security core: which test files judge which source files.
// Each group mutates a few source files and runs only the compiled test files that exercise
// them, so one mutant costs seconds, not a whole suite. `scripts/mutate.mjs` runs the groups;
// `mutation/README.md` says how, and `mutation/equivalent.md` lists the surviving mutants that
// no test can kill, each with the reason.
//
// `tests` are paths under dist/test without the `.test.js` suffix.
export const GROUPS = [
  {
    name: 'oauth-token',
    mutate: ['src/oauth/endpoints/token.ts', 'src/oauth/grants/authorization-code.ts', 'src/oauth/grants/refresh-token.ts', 'src/oauth/tokens/issue.ts', 'src/oauth/authorize/pkce.ts'],
    tests: ['oauth/pkce', 'oauth/endpoints/token-jwt', 'oauth/endpoints/token-bindings', 'oauth/endpoints/token-requests', 'oauth/endpoints/introspect', 'oauth/endpoints/refresh-scope', 'oauth/endpoints/flow', 'oauth/oidc/id-token'],
  },
  {
    name: 'oauth-redirect',
    mutate: ['src/oauth/authorize/redirect.ts', 'src/oauth/registration/redirect-uri.ts', 'src/oauth/registration/uri.ts'],
    tests: ['oauth/redirect', 'oauth/registration/metadata', 'oauth/endpoints/redirect-trust', 'oauth/endpoints/flow', 'oauth/oidc/end-session'],
  },
  {
    name: 'oauth-registration',
    mutate: [
      'src/oauth/registration/client-id.ts',
      'src/oauth/registration/client-secret.ts',
      'src/oauth/clients/cache.ts',
      'src/oauth/registration/keys.ts',
      'src/oauth/registration/metadata.ts',
      'src/oauth/registration/fields.ts',
      'src/oauth/registration/vocabulary.ts',
      'src/oauth/endpoints/register.ts',
    ],
    tests: [
      'oauth/registration/metadata',
      'oauth/registration/keys',
      'oauth/registration/client-secret',
      'oauth/registration/client-id',
      'oauth/clients/cache',
      'oauth/registration/client-id.attacks',
      'oauth/endpoints/register',
    ],
  },
  {
    name: 'oauth-clientauth',
    mutate: ['src/oauth/clients/authenticate.ts'],
    tests: ['oauth/endpoints/client-auth', 'oauth/endpoints/flow', 'oauth/endpoints/revoke', 'oauth/registration/client-secret'],
  },
  {
    name: 'oauth-session-csrf',
    mutate: ['src/oauth/session/session.ts', 'src/oauth/session/csrf.ts', 'src/oauth/session/request-token.ts', 'src/oauth/session/cookies.ts', 'src/oauth/account/csrf.ts'],
    tests: ['oauth/session', 'oauth/endpoints/csrf-cookie', 'oauth/account/page', 'oauth/oidc/prompt', 'oauth/endpoints/flow'],
  },
  {
    name: 'oauth-endpoints',
    mutate: [
      'src/oauth/authorize/endpoint.ts',
      'src/oauth/authorize/consent.ts',
      'src/oauth/authorize/issue-code.ts',
      'src/oauth/authorize/login.ts',
      'src/oauth/endpoints/revoke.ts',
      'src/oauth/endpoints/introspect.ts',
      'src/oauth/grants/password.ts',
      'src/oauth/consent/grant.ts',
    ],
    tests: [
      'oauth/endpoints/authorization.attacks',
      'oauth/endpoints/tokens.attacks',
      'oauth/endpoints/flow',
      'oauth/endpoints/redirect-trust',
      'oauth/endpoints/revoke',
      'oauth/endpoints/password-grant',
      'oauth/endpoints/login-throttle',
      'oauth/endpoints/token-bindings',
      'oauth/oidc/prompt',
      'oauth/lifecycle',
    ],
  },
  {
    name: 'extauth-wire-query',
    mutate: ['src/extauth/wire/*.ts', 'src/extauth/query.ts'],
    tests: ['extauth/wire/frame16', 'extauth/wire/line', 'extauth/wire/protocol', 'extauth/query'],
  },
  {
    name: 'extauth-engine',
    mutate: ['src/extauth/process.ts', 'src/extauth/pool.ts', 'src/extauth/engine.ts', 'src/extauth/job.ts', 'src/extauth/queue.ts', 'src/extauth/stderr.ts'],
    tests: ['extauth/engine.units', 'extauth/engine.process', 'extauth/engine.pool', 'extauth/engine.facade', 'extauth/engine.attacks', 'extauth/engine.deadline', 'extauth/engine.lifecycle'],
  },
  {
    name: 'bridge',
    mutate: ['src/bridge/*.ts'],
    // The module tests first (quick, in one process); the CLI's end-to-end tests on pipes and
    // ptys last.
    tests: ['bridge/modules', 'bridge/socket-server', 'bridge/lockstep-stall', 'bridge/lockstep-store', 'bridge/bridge', 'bridge/lockstep', 'bridge/handoff'],
  },
  {
    name: 'dovecot',
    mutate: ['src/dovecot/*.ts'],
    tests: ['dovecot/connection', 'dovecot/escape', 'dovecot/authenticator', 'dovecot/identity', 'dovecot/server'],
  },
  {
    name: 'authapi',
    mutate: ['src/authapi/*.ts', 'src/http/basic-auth.ts'],
    tests: ['authapi/contract', 'authapi/basic'],
  },
  {
    name: 'accounts-throttle',
    mutate: ['src/accounts/throttle.ts', 'src/accounts/outcome.ts', 'src/accounts/errors.ts'],
    tests: ['accounts/throttle', 'accounts/outcome', 'accounts/throttle.store'],
  },
  {
    name: 'accounts',
    mutate: ['src/accounts/accounts.ts', 'src/accounts/lifecycle.ts'],
    tests: ['accounts/query', 'accounts/changes', 'accounts/hosts', 'accounts/throttle', 'accounts/reload', 'oauth/lifecycle'],
  },
];
