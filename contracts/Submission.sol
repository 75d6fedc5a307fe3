// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// The submission types and their validity rule, shared by Flow and anything that decodes its
// calldata or events. Field order and types are part of the ABI that 0G's SDKs encode
// (spec storage.md §3.5), so they must not change.

/// @notice One Merkle subtree of a file: `root` covers 2^height chunks of 256 bytes.
struct SubmissionNode {
    bytes32 root;
    uint256 height;
}

/// @notice A file as the chain sees it: its byte length, opaque tags, and the subtrees that
///         cover its padded chunks, tallest first (spec §4.4).
struct SubmissionData {
    uint256 length;
    bytes tags;
    SubmissionNode[] nodes;
}

/// @notice The current (SDK 1.2.8) envelope; the 0.3.3 ABI sends SubmissionData alone.
struct Submission {
    SubmissionData data;
    address submitter;
}

// One error per rule, so a client learns which rule it broke and by how much without guessing.
error ZeroSubmitter();
error NoNodes();
error EmptySubmission();
error HeightTooLarge(uint256 height);
error HeightsNotDecreasing(uint256 index, uint256 previousHeight, uint256 height);
error HeightSpreadTooLarge(uint256 firstHeight, uint256 height);
error LengthExceedsCapacity(uint256 length, uint256 capacityBytes);
error ExcessPadding(uint256 length, uint256 minLength);

library SubmissionLib {
    uint256 internal constant CHUNK_BYTES = 256;
    /// Heights at or above this would overflow the sector count's 64-bit budget.
    uint256 internal constant MAX_HEIGHT = 64;
    /// A file covers at most four subtrees: the padding rule below never needs more.
    uint256 internal constant MAX_HEIGHT_SPREAD = 4;

    /// @notice Checks `data` against 0G's `SubmissionLibrary.valid` (spec §5 "Chain") and returns
    ///         the sectors (padded chunks) its nodes cover, Σ2^height.
    /// @dev The length window enforces *minimal* padding: the nodes may cover at most one
    ///      padding step more than the data needs, where the step is what the SDK's
    ///      computePaddedSize rounds to. So every byte length maps to exactly one node layout,
    ///      and nobody can buy flow space with a tiny file and giant nodes.
    function validate(SubmissionData calldata data, address submitter) internal pure returns (uint256 sectors) {
        if (submitter == address(0)) revert ZeroSubmitter();
        uint256 count = data.nodes.length;
        if (count == 0) revert NoNodes();
        if (data.length == 0) revert EmptySubmission();

        uint256 first = data.nodes[0].height;
        if (first >= MAX_HEIGHT) revert HeightTooLarge(first);
        sectors = 1 << first;
        uint256 previous = first;
        for (uint256 i = 1; i < count; i++) {
            uint256 height = data.nodes[i].height;
            if (height >= previous) revert HeightsNotDecreasing(i, previous, height);
            if (first - height >= MAX_HEIGHT_SPREAD) revert HeightSpreadTooLarge(first, height);
            sectors += 1 << height;
            previous = height;
        }

        uint256 capacityBytes = sectors * CHUNK_BYTES;
        if (data.length > capacityBytes) revert LengthExceedsCapacity(data.length, capacityBytes);

        // The largest capacity one padding step below this one. Below 16 chunks nothing is
        // padded; a single node pads to 1/16 of itself; several nodes pad to 1/8 of the first
        // (first >= 4 here, since the sum reaches 16 with at most four distinct heights).
        uint256 lastCapacity;
        if (sectors < 16) lastCapacity = sectors - 1;
        else if (count == 1) lastCapacity = sectors - (sectors >> 4);
        else lastCapacity = sectors - (1 << (first - 3));
        uint256 minLength = lastCapacity * CHUNK_BYTES + 1;
        if (data.length < minLength) revert ExcessPadding(data.length, minLength);
    }

    /// @notice The submission's identity: keccak256 over the node roots, concatenated.
    function digest(SubmissionData calldata data) internal pure returns (bytes32) {
        uint256 count = data.nodes.length;
        bytes32[] memory roots = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            roots[i] = data.nodes[i].root;
        }
        // encodePacked of a bytes32[] is the bare concatenation of its elements.
        return keccak256(abi.encodePacked(roots));
    }
}
