/** Templates of the account page (grants, password change). */
export const ACCOUNT_TEMPLATES = {} as const;
