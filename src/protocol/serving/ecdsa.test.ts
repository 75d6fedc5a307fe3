import { describe } from 'node:test';
import { ecdsaContract } from './ecdsa.test-kit.ts';
import { nobleEcdsa, nobleKeccak256 } from './ecdsa.ts';

describe('noble ecdsa (the pure default)', () => {
  ecdsaContract(nobleEcdsa, nobleKeccak256);
});
