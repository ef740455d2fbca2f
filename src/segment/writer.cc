#include <fmt/format.h>

#include "segment/segment.h"

namespace binlog::segment {

SegmentWriter::SegmentWriter(std::unique_ptr<WritableFile> file, const SegmentOptions& options,
                             uint64_t size)
    : file_(std::move(file)), footer_(options.index_interval_bytes), size_(size) {}

SegmentWriter::~SegmentWriter() {
  if (!closed_ && file_) file_->Close().IgnoreError();
}

const std::string& SegmentWriter::path() const { return file_->path(); }

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(Env* env, const std::string& path,
                                                             const SegmentOptions& options,
                                                             int64_t created_micros) {
  ASSIGN_OR_RETURN(auto file, env->NewWritableFile(path));
  SegmentHeader h;
  h.compression = options.compression;
  h.kind = options.kind;
  h.created_micros = created_micros;
  RETURN_IF_ERROR(file->Append(EncodeSegmentHeader(h)));
  RETURN_IF_ERROR(file->Sync());
  return std::unique_ptr<SegmentWriter>(new SegmentWriter(std::move(file), options, kHeaderSize));
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Reopen(Env* env, const std::string& path,
                                                             const SegmentOptions& options,
                                                             const ScanResult& scan) {
  if (scan.trailer || !scan.damages.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: only an unsealed, undamaged segment can be appended to", path));
  }
  ASSIGN_OR_RETURN(auto file, env->ReopenWritableFile(path));
  if (file->Size() != scan.valid_end) {
    RETURN_IF_ERROR(file->Truncate(scan.valid_end));
    RETURN_IF_ERROR(file->Sync());
  }
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(std::move(file), options, scan.valid_end));
  w->footer_ = scan.footer;
  return w;
}

Status SegmentWriter::Append(const std::vector<EncodedBlock>& blocks) {
  std::vector<const EncodedBlock*> ptrs;
  ptrs.reserve(blocks.size());
  for (const auto& b : blocks) ptrs.push_back(&b);
  return Append(ptrs);
}

Status SegmentWriter::Append(std::span<const EncodedBlock* const> blocks) {
  if (!sticky_.ok()) return sticky_;
  if (closed_) return Status::Aborted(fmt::format("{}: segment is sealed", path()));
  const std::string* single = blocks.size() == 1 ? &blocks[0]->bytes : nullptr;
  if (single == nullptr) {
    buffer_.clear();
    for (const EncodedBlock* b : blocks) buffer_ += b->bytes;
  }
  Status s = file_->Append(single ? *single : buffer_);
  if (!s.ok()) {
    sticky_ = s;
    return s;
  }
  for (const EncodedBlock* b : blocks) {
    footer_.AddBlock(size_, b->header);
    size_ += b->bytes.size();
  }
  return Status::OK();
}

Status SegmentWriter::Sync() {
  if (!sticky_.ok()) return sticky_;
  Status s = file_->Sync();
  // After a failed fdatasync the kernel may have dropped the dirty pages: nothing written since
  // the last good sync can be trusted, so the segment takes no more writes.
  if (!s.ok()) sticky_ = s;
  return s;
}

Status SegmentWriter::Seal() {
  if (!sticky_.ok()) return sticky_;
  if (closed_) return Status::OK();
  std::string footer = footer_.Finish(size_);
  Status s = file_->Append(footer);
  // Cuts what the journal wrote ahead of the data (see journal::Preallocator): a sealed
  // segment ends with its footer.
  if (s.ok()) s = file_->Truncate(size_ + footer.size());
  if (s.ok()) s = file_->Sync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) {
    sticky_ = s;
    return s;
  }
  size_ += footer.size();
  closed_ = true;
  return Status::OK();
}

Status SegmentWriter::Close() {
  if (closed_) return Status::OK();
  // As Seal: no zeros left after the data, so a clean shutdown leaves nothing to cut at open.
  Status s = sticky_.ok() ? file_->Truncate(size_) : sticky_;
  if (s.ok()) s = file_->Sync();
  Status c = file_->Close();
  closed_ = true;
  return s.ok() ? c : s;
}

}  // namespace binlog::segment
