// The throwaway slapd lives in src/bench (the LDAP benchmark needs it from dist/); tests use it from here.
export * from '../../src/bench/slapd.js';
