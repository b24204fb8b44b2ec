'use strict';

/**
 * Composes koa-style middleware `async (ctx, next)` into one function `(ctx, next) => Promise`.
 * Calling `next()` twice in one middleware is an error, as in koa.
 * @param {Array<(ctx: any, next: () => Promise<void>) => any>} middleware
 */
function compose(middleware) {
  for (const fn of middleware) {
    if (typeof fn !== 'function') throw new TypeError('middleware must be functions');
  }
  return function composed(ctx, next) {
    let index = -1;
    const dispatch = (i) => {
      if (i <= index) return Promise.reject(new Error('next() called multiple times'));
      index = i;
      const fn = i === middleware.length ? next : middleware[i];
      if (!fn) return Promise.resolve();
      try {
        return Promise.resolve(fn(ctx, () => dispatch(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}

module.exports = { compose };
