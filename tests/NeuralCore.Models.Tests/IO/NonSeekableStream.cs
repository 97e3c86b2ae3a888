namespace NeuralCore.Models.Tests.IO;

/// <summary>
/// A read-only stream that cannot seek and has no length (like a network or decompression stream), handing out at
/// most <paramref name="chunk"/> bytes per read so that readers must loop.
/// </summary>
public sealed class NonSeekableStream(byte[] bytes, int chunk = 7) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(buffer.Length, chunk), bytes.Length - _position);
        bytes.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A seekable stream whose Length promises more bytes than it holds (a file cut while being read).</summary>
public sealed class ShortStream(byte[] bytes, long claimedLength) : MemoryStream(bytes, writable: false)
{
    public override long Length => claimedLength;
}
