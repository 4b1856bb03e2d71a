import { describe, it, expect, vi } from 'vitest';
import { safeNextPath, parseCallbackFragment, consumeCallbackFragment } from './callback.js';

describe('safeNextPath', () => {
  it.each([
    ['/profile', '/profile'],
    ['/sessions?x=1#y', '/sessions?x=1#y'],
    ['/', '/'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    '',
    'profile',
    '//evil.example/x',
    '/\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '/a\nb',
    '/a\u0000',
    '/auth/callback',
    '/auth/callback?x',
  ])('replaces %j by /', (input) => {
    expect(safeNextPath(input)).toBe('/');
  });
});

describe('parseCallbackFragment', () => {
  it('reads token, lifetime and next', () => {
    expect(parseCallbackFragment('#access_token=a.b.c&token_type=Bearer&expires_in=900&next=%2Fsessions')).toEqual({
      accessToken: 'a.b.c',
      tokenType: 'Bearer',
      expiresIn: 900,
      next: '/sessions',
    });
  });

  it('tolerates a missing next and lifetime', () => {
    expect(parseCallbackFragment('access_token=t')).toMatchObject({ accessToken: 't', expiresIn: null, next: '/' });
  });

  it('refuses a token of another type and an unsafe next', () => {
    expect(parseCallbackFragment('#access_token=t&token_type=mac&next=//x')).toMatchObject({
      accessToken: null,
      next: '/',
    });
  });
});

describe('consumeCallbackFragment', () => {
  it('removes the fragment from the address bar', () => {
    const history = { state: { k: 1 }, replaceState: vi.fn() };
    const location = { pathname: '/auth/callback', search: '', hash: '#access_token=t&next=/profile' };
    expect(consumeCallbackFragment(location, history)).toMatchObject({ accessToken: 't', next: '/profile' });
    expect(history.replaceState).toHaveBeenCalledWith({ k: 1 }, '', '/auth/callback');
  });

  it('does nothing on other pages', () => {
    const history = { replaceState: vi.fn() };
    expect(consumeCallbackFragment({ pathname: '/', search: '', hash: '#access_token=t' }, history)).toBeNull();
    expect(history.replaceState).not.toHaveBeenCalled();
  });
});
