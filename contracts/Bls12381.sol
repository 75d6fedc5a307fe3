// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// A BLS12-381 precompile call failed where valid input cannot fail (a bug or a broken chain).
error PrecompileFailed(address precompile);

/// @title Bls12381
/// @notice BLS12-381 helpers over the EIP-2537 precompiles, for the Ethereum "min-pk" scheme
///         (public keys in G1, signatures in G2) with DST BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_,
///         the scheme blst and noble sign with.
/// @dev Points use EIP-2537 encodings: every Fp is 64 bytes big-endian with 16 zero bytes on top,
///      G1 = x‖y (128 B), G2 = x.c0‖x.c1‖y.c0‖y.c1 (256 B), infinity = all zeros. Everything works
///      on raw memory pointers so that callers can lay a pairing input out once and fill it in
///      place instead of concatenating copies.
library Bls12381 {
    // Precompile addresses, as numbers so that inline assembly can use them.
    uint256 internal constant SHA256 = 0x02;
    uint256 internal constant MODEXP = 0x05;
    uint256 internal constant G1ADD = 0x0b;
    uint256 internal constant G2ADD = 0x0d;
    uint256 internal constant PAIRING = 0x0f;
    uint256 internal constant MAP_FP2_TO_G2 = 0x11;

    uint256 internal constant G1_BYTES = 128;
    uint256 internal constant G2_BYTES = 256;
    /// One pairing term: a G1 point then a G2 point.
    uint256 internal constant PAIR_BYTES = 384;

    // The field modulus p (48 bytes) as the 32 high bytes and the 16 low bytes, left aligned.
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f624;
    uint256 private constant P_LO = 0x1eabfffeb153ffffb9feffffffffaaab00000000000000000000000000000000;

    // -g1 (the negated generator) in EIP-2537 encoding, as four words.
    uint256 private constant NEG_G1_0 = 0x0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0f;
    uint256 private constant NEG_G1_1 = 0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    uint256 private constant NEG_G1_2 = 0x00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f2;
    uint256 private constant NEG_G1_3 = 0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    // expand_message_xmd (RFC 9380 §5.3.1) for a 32-byte message and 256 output bytes. DST' is the
    // 43-byte DST followed by its length (0x2b). b_0's input ends in I2OSP(256, 2) ‖ 0x00 ‖ DST'
    // (47 bytes, as two left-aligned words); b_i's ends in I2OSP(i, 1) ‖ DST' (45 bytes, the
    // counter byte left zero here and written per block).
    uint256 private constant B0_TAIL_0 = 0x010000424c535f5349475f424c53313233383147325f584d443a5348412d3235;
    uint256 private constant B0_TAIL_1 = 0x365f535357555f524f5f504f505f2b0000000000000000000000000000000000;
    uint256 private constant BI_TAIL_0 = 0x00424c535f5349475f424c53313233383147325f584d443a5348412d3235365f;
    uint256 private constant BI_TAIL_1 = 0x535357555f524f5f504f505f2b00000000000000000000000000000000000000;

    /// Writes hash_to_curve(message) in G2 (RFC 9380 BLS12381G2_XMD:SHA-256_SSWU_RO_, our DST) as
    /// 256 bytes at `out`. Uses the memory from the free memory pointer on as scratch.
    /// @dev hash_to_field gives u0, u1 in Fp2 from 4 × 64 bytes, each reduced mod p with MODEXP
    ///      (base^1 mod p). MAP_FP2_TO_G2 maps and clears the cofactor; clearing is linear, so
    ///      map(u0) + map(u1) equals clear_cofactor(map'(u0) + map'(u1)) as the RFC defines it.
    function hashToG2(bytes32 message, uint256 out) internal view {
        uint256 failed;
        assembly ("memory-safe") {
            let s := mload(0x40)
            // msg' = Z_pad(64) ‖ msg(32) ‖ 0x0100 ‖ 0x00 ‖ DST' = 143 bytes at s.
            mstore(s, 0)
            mstore(add(s, 0x20), 0)
            mstore(add(s, 0x40), message)
            mstore(add(s, 0x60), B0_TAIL_0)
            mstore(add(s, 0x80), B0_TAIL_1)
            // b_0 goes to s + 0xa0; the b_i input (77 bytes) is built at s + 0xc0; the uniform
            // bytes b_1..b_8 land in the MODEXP inputs below.
            let b0 := add(s, 0xa0)
            let bin := add(s, 0xc0)
            if iszero(staticcall(gas(), SHA256, s, 143, b0, 0x20)) { failed := SHA256 }
            mstore(add(bin, 0x20), BI_TAIL_0)
            mstore(add(bin, 0x40), BI_TAIL_1)

            // Four MODEXP inputs of 209 bytes (256 apart): Bsize=64 ‖ Esize=1 ‖ Msize=48 ‖ B(64) ‖
            // E=1 ‖ p. Block i (1..8) is written straight into input (i-1)/2, at its half of B.
            let q := add(s, 0x120)
            let stride := 0x100
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                let e := add(q, mul(k, stride))
                mstore(e, 0x40)
                mstore(add(e, 0x20), 1)
                mstore(add(e, 0x40), 0x30)
                mstore(add(e, 0xa1), P_HI)
                mstore(add(e, 0xc1), P_LO)
                mstore8(add(e, 0xa0), 1)
            }
            let prev := 0
            for { let i := 1 } lt(i, 9) { i := add(i, 1) } {
                mstore(bin, xor(mload(b0), prev))
                mstore8(add(bin, 0x20), i)
                let dst := add(add(q, mul(shr(1, sub(i, 1)), stride)), add(0x60, mul(and(sub(i, 1), 1), 0x20)))
                if iszero(staticcall(gas(), SHA256, bin, 77, dst, 0x20)) { failed := SHA256 }
                prev := mload(dst)
            }

            // u0 = (e0, e1), u1 = (e2, e3) as two 128-byte Fp2 encodings; MODEXP writes the 48
            // low bytes of each 64-byte slot, whose 16 top bytes are zeroed first.
            let u := add(q, mul(4, stride))
            for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                let slot := add(u, mul(k, 0x40))
                mstore(slot, 0)
                if iszero(staticcall(gas(), MODEXP, add(q, mul(k, stride)), 209, add(slot, 0x10), 0x30)) { failed := MODEXP }
            }
            let g := add(u, 0x100)
            if iszero(staticcall(gas(), MAP_FP2_TO_G2, u, 0x80, g, 0x100)) { failed := MAP_FP2_TO_G2 }
            if iszero(staticcall(gas(), MAP_FP2_TO_G2, add(u, 0x80), 0x80, add(g, 0x100), 0x100)) { failed := MAP_FP2_TO_G2 }
            if iszero(staticcall(gas(), G2ADD, g, 0x200, out, 0x100)) { failed := G2ADD }
        }
        if (failed != 0) revert PrecompileFailed(address(uint160(failed)));
    }

    /// Checks e(pk, h) · e(-g1, sig) == 1 over the 768 bytes at `input`: pk(128) ‖ h(256) ‖
    /// (-g1 is written here, 128) ‖ sig(256). False when the signature is malformed or outside
    /// G2 (the precompile checks subgroups and fails), or when the equation does not hold.
    /// @dev The caller must reject an infinity signature first: e(·, O) = 1 would let a forger
    ///      with an infinity pk or h through.
    function pairingHolds(uint256 input) internal view returns (bool holds) {
        assembly ("memory-safe") {
            let n := add(input, 0x180)
            mstore(n, NEG_G1_0)
            mstore(add(n, 0x20), NEG_G1_1)
            mstore(add(n, 0x40), NEG_G1_2)
            mstore(add(n, 0x60), NEG_G1_3)
            // A failing precompile burns the gas it is given; only a bad signature can fail here,
            // and that is the submitter's loss.
            let ok := staticcall(gas(), PAIRING, input, 0x300, 0x00, 0x20)
            holds := and(ok, eq(mload(0x00), 1))
        }
    }

    /// Whether `point` (128 bytes of calldata) is a well-encoded G1 point on the curve, not
    /// infinity. Subgroup membership is left to the pairing, which checks it.
    function isG1Point(bytes calldata point) internal view returns (bool valid) {
        if (point.length != G1_BYTES) return false;
        assembly ("memory-safe") {
            let s := mload(0x40)
            calldatacopy(s, point.offset, 0x80)
            let nonZero := or(or(mload(s), mload(add(s, 0x20))), or(mload(add(s, 0x40)), mload(add(s, 0x60))))
            // G1ADD(point, O) fails on a bad encoding or an off-curve point. It is given a fixed
            // allowance so that a bad key burns that, not the whole transaction.
            mstore(add(s, 0x80), 0)
            mstore(add(s, 0xa0), 0)
            mstore(add(s, 0xc0), 0)
            mstore(add(s, 0xe0), 0)
            valid := and(iszero(iszero(nonZero)), staticcall(10000, G1ADD, s, 0x100, s, 0x80))
        }
    }

    /// Whether the `length` bytes at memory `ptr` (a multiple of 32) are all zero: the EIP-2537
    /// encoding of infinity.
    function isZero(uint256 ptr, uint256 length) internal pure returns (bool zero) {
        assembly ("memory-safe") {
            let acc := 0
            for { let i := 0 } lt(i, length) { i := add(i, 0x20) } { acc := or(acc, mload(add(ptr, i))) }
            zero := iszero(acc)
        }
    }
}
