// The rimap errors live with all the others (src/errors.ts), so they carry a stable SASLD_ERR_* code.
export { RimapError, type RimapErrorReason } from '../../../errors.js';
