/**
 * The return dictionary (RD): HandyRep's wire format for every action. Inside the code, errors stay
 * typed (`HandyRepError`); an RD is built only at the API boundary.
 */

export type RdResult = 'SUCCESS' | 'FAIL';

export type Rd<Extra extends object = Record<never, never>> = {
  result: RdResult;
  details: string;
} & Extra;

export function success<Extra extends object = Record<never, never>>(details: string, extra?: Extra): Rd<Extra> {
  return { result: 'SUCCESS', details, ...(extra ?? ({} as Extra)) };
}

export function failure<Extra extends object = Record<never, never>>(details: string, extra?: Extra): Rd<Extra> {
  return { result: 'FAIL', details, ...(extra ?? ({} as Extra)) };
}

export function isSuccess(rd: { result: RdResult }): boolean {
  return rd.result === 'SUCCESS';
}
