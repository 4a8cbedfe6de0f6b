// Typings for dns-packet's record type and class tables, which its own typings leave out.
declare module "dns-packet/types.js" {
  export function toString(type: number): string;
  export function toType(name: string): number;
}
declare module "dns-packet/classes.js" {
  export function toString(klass: number): string;
  export function toClass(name: string): number;
}
declare module "dns-packet/rcodes.js" {
  export function toString(rcode: number): string;
  export function toRcode(name: string): number;
}
